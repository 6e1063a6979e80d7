// name: ifc/retire_nodes
// mode: write
// params: {"model": "demo", "load": "load-1", "now": 1767225600000}
// template: {"label": "Element"}
// purpose: Keeps points the new file no longer has but that hold field observations, flagged as removed.
MATCH (n:{{label}} {model: $model})-[:HAS_OBSERVATIONS]->()
WHERE n.source = 'ifc' AND n.loadId <> $load
WITH DISTINCT n
SET n.source = 'ifc-removed', n.removedAt = $now
