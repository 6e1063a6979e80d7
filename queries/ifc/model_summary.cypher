// name: ifc/model_summary
// mode: read
// params: {"model": "demo"}
// purpose: Counts of a model's spatial structure, elements, points and activities.
MATCH (n {model: $model})
UNWIND labels(n) AS label
WITH label, count(*) AS nodes
WHERE label IN ['Project', 'Site', 'Building', 'Storey', 'Space', 'Zone', 'Element', 'ElementType', 'Point', 'Equipment', 'WorkSchedule', 'Activity']
RETURN label, nodes
ORDER BY label
