// name: ifc/sweep_links
// mode: write
// params: {"model": "demo", "load": "load-1"}
// template: {"label": "Element"}
// purpose: Deletes file-stated relationships of a model that the current load did not state again.
MATCH (a:{{label}} {model: $model})-[r]->()
WHERE r.source = 'ifc' AND r.loadId <> $load
DELETE r
