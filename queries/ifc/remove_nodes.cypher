// name: ifc/remove_nodes
// mode: write
// params: {"model": "demo", "load": "load-1"}
// template: {"label": "Element"}
// purpose: Deletes nodes the new file no longer has, unless they hold observations (see ifc/retire_nodes).
MATCH (n:{{label}} {model: $model})
WHERE n.source = 'ifc' AND n.loadId <> $load
OPTIONAL MATCH (n)-[o:HAS_OBSERVATIONS]->()
WITH n, count(o) AS observed
WHERE observed = 0
DETACH DELETE n
