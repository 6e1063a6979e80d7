// name: store/label_counts
// mode: read
// params: {"model": null}
// purpose: How many nodes carry each label, in one model or (model null) in the whole graph.
MATCH (n)
WHERE $model IS NULL OR n.model = $model
UNWIND labels(n) AS label
RETURN label, count(*) AS nodes
ORDER BY label
