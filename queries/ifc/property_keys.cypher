// name: ifc/property_keys
// mode: read
// params: {"uids": ["demo:2O2Fr$t4X7Zf8NOew3FLOH"]}
// template: {"label": "Element"}
// purpose: The property keys nodes carry now, so a reload can drop the ones the new file no longer states.
MATCH (n:{{label}})
WHERE n.uid IN $uids
RETURN n.uid AS uid, keys(n) AS keys
