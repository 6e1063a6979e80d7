// name: anomalies/open_on
// mode: write
// params: {"rows": [{"target": "demo:2O2Fr$t4X7Zf8NOew3FLOH", "properties": ["spindleRpm"], "props": {"uid": "anomaly:7a2e", "kind": "condition", "detector": "condition:overspeed", "detectors": ["condition:overspeed"], "condition": "overspeed", "severity": "warning", "state": "open", "active": true, "start": 1767225600000, "lastSeen": 1767225600000, "detectedAt": 1767225600000, "value": 10250.0, "score": 1.0, "message": "spindleRpm > 10000: spindleRpm = 10250"}}]}
// template: {"label": "Element"}
// purpose: Records anomalies a user's condition raised on an element or space, linked to it (AFFECTS) and to the points bound to the properties it reads.
UNWIND $rows AS row
MATCH (t:{{label}} {uid: row.target})
CREATE (a:Anomaly)
SET a += row.props, a.target = t.uid, a.model = t.model, a.building = t.building, a.storey = t.storey,
    a.space = CASE WHEN 'Space' IN labels(t) THEN t.uid ELSE t.space END
CREATE (a)-[:AFFECTS]->(t)
WITH t, a, row
OPTIONAL MATCH (t)-[r:HAS_POINT]->(p:Point)
WHERE r.property IN row.properties
WITH t, a, collect(DISTINCT p) AS points
FOREACH (p IN points | CREATE (p)-[:HAS_ANOMALY]->(a))
WITH a, points, [t.uid] + [p IN points | p.uid] + [a.space, a.storey, a.building] AS around
SET a.point = head([p IN points | p.uid]),
    a.scope = reduce(s = [], u IN around | CASE WHEN u IS NULL OR u IN s THEN s ELSE s + u END)
RETURN a.uid AS uid, a.model AS model, a.scope AS scope, [a.target] AS affected
