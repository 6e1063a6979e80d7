// name: anomalies/open
// mode: write
// params: {"rows": [{"point": "t-101", "props": {"uid": "anomaly:0c1f", "kind": "outlier", "detector": "robust_z", "detectors": ["robust_z"], "severity": "warning", "state": "open", "active": true, "start": 1767225600000, "lastSeen": 1767225601000, "detectedAt": 1767225601000, "value": 35.2, "score": 9.1, "message": "35.2 degC is 9.1 robust deviations from the median 21.4 degC"}}]}
// purpose: Records newly opened anomalies on their points, linked to what each point is bound to or hosted by (AFFECTS), with where they are.
UNWIND $rows AS row
MATCH (p:Point {uid: row.point})
CREATE (a:Anomaly)
SET a += row.props, a.point = p.uid, a.model = p.model, a.building = p.building, a.storey = p.storey, a.space = p.space
CREATE (p)-[:HAS_ANOMALY]->(a)
WITH p, a
OPTIONAL MATCH (x)-[:HAS_POINT]->(p)
WITH p, a, collect(DISTINCT x) AS hosts
FOREACH (x IN hosts | CREATE (a)-[:AFFECTS]->(x))
WITH a, hosts,
     [p.uid] + [x IN hosts | x.uid] + [p.space, p.storey, p.building] + [x IN hosts | x.space]
     + [x IN hosts | x.storey] + [x IN hosts | x.building] AS around
SET a.scope = reduce(s = [], u IN around | CASE WHEN u IS NULL OR u IN s THEN s ELSE s + u END)
RETURN a.uid AS uid, a.model AS model, a.scope AS scope, [x IN hosts | x.uid] AS affected
