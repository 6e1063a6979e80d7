// name: ifc/fingerprints
// mode: read
// params: {"model": "demo"}
// template: {"label": "Element"}
// purpose: What the last load wrote for one label of a model: uid and the digest of what the file said.
MATCH (n:{{label}} {model: $model})
WHERE n.source = 'ifc'
RETURN n.uid AS uid, n.fingerprint AS fingerprint
