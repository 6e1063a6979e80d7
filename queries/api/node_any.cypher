// name: api/node_any
// mode: read
// params: {"uid": "demo:2O2Fr$t4X7Zf8NOew3FLOH"}
// purpose: The node with a uid, whatever its label (one indexed lookup per keyed label).
MATCH (n:Element {uid: $uid}) RETURN labels(n) AS labels, properties(n) AS props
UNION ALL MATCH (n:Space {uid: $uid}) RETURN labels(n) AS labels, properties(n) AS props
UNION ALL MATCH (n:Storey {uid: $uid}) RETURN labels(n) AS labels, properties(n) AS props
UNION ALL MATCH (n:Building {uid: $uid}) RETURN labels(n) AS labels, properties(n) AS props
UNION ALL MATCH (n:Site {uid: $uid}) RETURN labels(n) AS labels, properties(n) AS props
UNION ALL MATCH (n:Project {uid: $uid}) RETURN labels(n) AS labels, properties(n) AS props
UNION ALL MATCH (n:Zone {uid: $uid}) RETURN labels(n) AS labels, properties(n) AS props
UNION ALL MATCH (n:ElementType {uid: $uid}) RETURN labels(n) AS labels, properties(n) AS props
UNION ALL MATCH (n:Point {uid: $uid}) RETURN labels(n) AS labels, properties(n) AS props
UNION ALL MATCH (n:Equipment {uid: $uid}) RETURN labels(n) AS labels, properties(n) AS props
UNION ALL MATCH (n:WorkSchedule {uid: $uid}) RETURN labels(n) AS labels, properties(n) AS props
UNION ALL MATCH (n:Activity {uid: $uid}) RETURN labels(n) AS labels, properties(n) AS props
UNION ALL MATCH (n:Anomaly {uid: $uid}) RETURN labels(n) AS labels, properties(n) AS props
UNION ALL MATCH (n:Model {uid: $uid}) RETURN labels(n) AS labels, properties(n) AS props
