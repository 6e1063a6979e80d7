// name: ifc/link
// mode: write
// params: {"rows": [{"start": "demo:a", "end": "demo:b", "props": {}}], "load": "load-1"}
// template: {"start": "Storey", "end": "Element", "type": "CONTAINS_ELEMENT"}
// purpose: Creates or refreshes relationships the file states between nodes of known labels.
UNWIND $rows AS row
MATCH (a:{{start}} {uid: row.start})
MATCH (b:{{end}} {uid: row.end})
MERGE (a)-[r:{{type}}]->(b)
SET r += row.props, r.loadId = $load, r.source = 'ifc'
