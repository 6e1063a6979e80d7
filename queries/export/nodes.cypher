// name: export/nodes
// mode: read
// params: {"model": "demo", "after": "", "limit": 2000, "skip": ["Element"], "types": ["HAS_POINT", "CONTAINS_ELEMENT"]}
// template: {"label": "Point"}
// purpose: One page of a model's nodes of one label, in uid order after a uid, with the relationships of the given types they start (RDF export).
// toString() keeps FalkorDB off its uid index here: its range scan orders strings otherwise than
// ORDER BY does (measured: 'small:0QAu…' > 'small:0hAF…' through the index), which skips and repeats rows.
MATCH (n:{{label}} {model: $model})
WHERE toString(n.uid) > $after AND none(l IN labels(n) WHERE l IN $skip)
WITH n ORDER BY n.uid LIMIT $limit
OPTIONAL MATCH (n)-[r]->(m)
WHERE type(r) IN $types AND m.model = $model
WITH n, collect(CASE WHEN m IS NULL THEN null ELSE {type: type(r), to: m.uid, props: properties(r)} END) AS links
RETURN n.uid AS uid, labels(n) AS labels, properties(n) AS props, links
ORDER BY uid
