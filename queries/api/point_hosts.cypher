// name: api/point_hosts
// mode: read
// params: {"uids": ["t-101"]}
// purpose: What each point hangs off or is bound to (HAS_POINT into it), with the binding's property and transform.
UNWIND $uids AS uid
MATCH (t)-[r:HAS_POINT]->(:Point {uid: uid})
RETURN uid, labels(t) AS labels, properties(t) AS props, properties(r) AS link
