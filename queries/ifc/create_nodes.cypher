// name: ifc/create_nodes
// mode: write
// params: {"rows": [{"uid": "demo:2O2Fr$t4X7Zf8NOew3FLOH", "props": {"name": "Wall 1", "ifcClass": "IfcWall"}}], "load": "load-1", "model": "demo", "newStatus": "planned"}
// template: {"labels": ["Element", "IfcWall"]}
// purpose: Creates model nodes the graph does not have yet, labels and properties in one step.
UNWIND $rows AS row
CREATE (n{{labels}})
SET n = row.props, n.uid = row.uid, n.model = $model, n.loadId = $load, n.source = 'ifc', n.status = $newStatus
