// name: ifc/upsert_nodes
// mode: write
// params: {"rows": [{"uid": "demo:2O2Fr$t4X7Zf8NOew3FLOH", "props": {"name": "Wall 1", "ifcClass": "IfcWall"}}], "load": "load-1", "newStatus": "planned"}
// template: {"label": "Element", "labels": ["IfcWall"]}
// purpose: Creates or updates model nodes by uid with what the file says; live state (status, values) is kept.
UNWIND $rows AS row
MERGE (n:{{label}} {uid: row.uid})
ON CREATE SET n.status = $newStatus
SET n += row.props, n.loadId = $load, n.source = 'ifc', n{{labels}}
