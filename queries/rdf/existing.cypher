// name: rdf/existing
// mode: read
// params: {"uids": ["demo:2O2Fr$t4X7Zf8NOew3FLOH"]}
// template: {"label": "Space"}
// purpose: Which of these uids the graph already holds under a label, with their labels and where they are (RDF import binds to them).
UNWIND $uids AS uid
MATCH (n:{{label}} {uid: uid})
RETURN n.uid AS uid, labels(n) AS labels, n.building AS building, n.storey AS storey, n.space AS space
