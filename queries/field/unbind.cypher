// name: field/unbind
// mode: write
// params: {"point": "t-101", "target": "demo:2O2Fr$t4X7Zf8NOew3FLOH"}
// template: {"label": "Space"}
// purpose: Removes a binding of a point to a property of an element or space; returns what it was.
MATCH (t:{{label}} {uid: $target})-[r:HAS_POINT]->(p:Point {uid: $point})
WHERE r.property IS NOT NULL
WITH t, r, r.property AS property
DELETE r
RETURN property, t.model AS model
