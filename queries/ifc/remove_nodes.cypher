// name: ifc/remove_nodes
// mode: write
// params: {"model": "demo", "load": "load-1", "now": 1767225600000}
// template: {"label": "Element"}
// purpose: Deletes nodes the new file no longer has; points that hold observations are kept, flagged removed.
MATCH (n:{{label}} {model: $model})
WHERE n.source = 'ifc' AND n.loadId <> $load
OPTIONAL MATCH (n)-[o:HAS_OBSERVATIONS]->()
WITH n, count(o) AS observed
FOREACH (_ IN CASE WHEN observed > 0 THEN [1] ELSE [] END | SET n.source = 'ifc-removed', n.removedAt = $now)
WITH n, observed
WHERE observed = 0
DETACH DELETE n
