// name: sensors/alias_points
// mode: write
// params: {"rows": [{"uid": "demo:2O2Fr$t4X7Zf8NOew3FLOH", "props": {"pointId": "t-101", "unit": "degC"}}]}
// purpose: Gives points that came from an IFC model the id the field uses for them, with their settings.
UNWIND $rows AS row
MATCH (p:Point {uid: row.uid})
SET p += row.props
RETURN p.uid AS uid
