// name: api/expand
// mode: read
// params: {"ids": [0], "types": null}
// purpose: One step of a breadth-first walk: every node next to the given ones, either direction (observations and events left out).
UNWIND $ids AS id
MATCH (n) WHERE id(n) = id
MATCH (n)-[r]-(m)
WHERE ($types IS NULL OR type(r) IN $types) AND NOT type(r) IN ['HAS_OBSERVATIONS', 'ABOUT']
RETURN id AS source, id(m) AS target, type(r) AS type, startNode(r) = n AS outgoing,
       labels(m) AS labels, m.uid AS uid, m.name AS name, m.model AS model, m.building AS building
