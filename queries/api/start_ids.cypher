// name: api/start_ids
// mode: read
// params: {"uid": "demo:2O2Fr$t4X7Zf8NOew3FLOH"}
// purpose: The engine's id of the node with a uid, whatever its label, to start a breadth-first walk from it.
MATCH (n:Element {uid: $uid}) RETURN id(n) AS id, labels(n) AS labels, n.uid AS uid, n.name AS name, n.model AS model, n.building AS building
UNION ALL MATCH (n:Space {uid: $uid}) RETURN id(n) AS id, labels(n) AS labels, n.uid AS uid, n.name AS name, n.model AS model, n.building AS building
UNION ALL MATCH (n:Storey {uid: $uid}) RETURN id(n) AS id, labels(n) AS labels, n.uid AS uid, n.name AS name, n.model AS model, n.building AS building
UNION ALL MATCH (n:Building {uid: $uid}) RETURN id(n) AS id, labels(n) AS labels, n.uid AS uid, n.name AS name, n.model AS model, n.building AS building
UNION ALL MATCH (n:Site {uid: $uid}) RETURN id(n) AS id, labels(n) AS labels, n.uid AS uid, n.name AS name, n.model AS model, n.building AS building
UNION ALL MATCH (n:Project {uid: $uid}) RETURN id(n) AS id, labels(n) AS labels, n.uid AS uid, n.name AS name, n.model AS model, n.building AS building
UNION ALL MATCH (n:Zone {uid: $uid}) RETURN id(n) AS id, labels(n) AS labels, n.uid AS uid, n.name AS name, n.model AS model, n.building AS building
UNION ALL MATCH (n:ElementType {uid: $uid}) RETURN id(n) AS id, labels(n) AS labels, n.uid AS uid, n.name AS name, n.model AS model, n.building AS building
UNION ALL MATCH (n:Point {uid: $uid}) RETURN id(n) AS id, labels(n) AS labels, n.uid AS uid, n.name AS name, n.model AS model, n.building AS building
UNION ALL MATCH (n:Equipment {uid: $uid}) RETURN id(n) AS id, labels(n) AS labels, n.uid AS uid, n.name AS name, n.model AS model, n.building AS building
UNION ALL MATCH (n:Activity {uid: $uid}) RETURN id(n) AS id, labels(n) AS labels, n.uid AS uid, n.name AS name, n.model AS model, n.building AS building
UNION ALL MATCH (n:WorkSchedule {uid: $uid}) RETURN id(n) AS id, labels(n) AS labels, n.uid AS uid, n.name AS name, n.model AS model, n.building AS building
UNION ALL MATCH (n:Anomaly {uid: $uid}) RETURN id(n) AS id, labels(n) AS labels, n.uid AS uid, n.name AS name, n.model AS model, n.building AS building
UNION ALL MATCH (n:Model {uid: $uid}) RETURN id(n) AS id, labels(n) AS labels, n.uid AS uid, n.name AS name, n.model AS model, n.building AS building
