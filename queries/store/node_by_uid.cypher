// name: store/node_by_uid
// mode: read
// params: {"uid": "demo:0001"}
// purpose: One node by its graph-wide uid, with its labels and properties.
MATCH (n {uid: $uid})
RETURN labels(n) AS labels, properties(n) AS properties
