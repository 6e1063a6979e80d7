// name: sensors/bind
// mode: write
// params: {"rows": [{"target": "demo:2O2Fr$t4X7Zf8NOew3FLOH", "point": "ahu1-sat", "props": {"property": "temperature", "unit": "degC", "scale": 1.0, "offset": 0.0}}]}
// template: {"label": "Element"}
// purpose: Binds points to a property of the element or space they measure (HAS_POINT with the transform); the point is located where its target is.
UNWIND $rows AS row
MATCH (t:{{label}} {uid: row.target})
MATCH (p:Point {uid: row.point})
MERGE (t)-[r:HAS_POINT]->(p)
SET r += row.props, r.via = 'binding',
    p.building = t.building, p.storey = t.storey,
    p.space = CASE WHEN 'Space' IN labels(t) THEN t.uid ELSE t.space END
RETURN row.point AS point
