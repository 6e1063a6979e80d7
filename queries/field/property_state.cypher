// name: field/property_state
// mode: read
// params: {"uid": "demo:2O2Fr$t4X7Zf8NOew3FLOH", "keys": ["airTemperature"]}
// template: {"label": "Element"}
// purpose: A node's properties and the bindings of the named ones: what a field update is decided on.
MATCH (t:{{label}} {uid: $uid})
OPTIONAL MATCH (t)-[r:HAS_POINT]->(p:Point)
WHERE r.property IN $keys
RETURN properties(t) AS props,
       collect({property: r.property, rule: r.conflict, point: p.uid, lastTime: p.lastTime,
                interval: p.expectedInterval}) AS bindings
