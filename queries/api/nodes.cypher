// name: api/nodes
// mode: read
// params: {"uids": ["demo:2O2Fr$t4X7Zf8NOew3FLOH"], "scopeModel": null, "scopeBuilding": null}
// template: {"label": "Element"}
// purpose: Nodes of one label by uid (one round trip for every node a GraphQL query names), within a key's scope.
UNWIND $uids AS uid
MATCH (n:{{label}} {uid: uid})
WHERE ($scopeModel IS NULL OR n.model = $scopeModel)
  AND ($scopeBuilding IS NULL OR n.building = $scopeBuilding OR n.uid = $scopeBuilding)
RETURN uid, labels(n) AS labels, properties(n) AS props
