// name: field/set_properties
// mode: write
// params: {"uid": "demo:2O2Fr$t4X7Zf8NOew3FLOH", "props": {"crackWidth": 0.3, "crackWidth.time": 1767225600000, "crackWidth.source": "field:inspector", "crackWidth.confidence": 0.8}}
// template: {"label": "Element"}
// purpose: Writes field-stated property values (with time, source and confidence) onto one node.
MATCH (t:{{label}} {uid: $uid})
SET t += $props
