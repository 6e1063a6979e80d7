// name: rdf/link
// mode: write
// params: {"rows": [{"start": "soda:ahu_A1", "end": "soda:vav_C180", "props": {}}]}
// template: {"start": "Equipment", "end": "Equipment", "type": "FEEDS"}
// purpose: Creates the relationships an RDF model states between nodes of known labels (RDF import).
UNWIND $rows AS row
MATCH (a:{{start}} {uid: row.start})
MATCH (b:{{end}} {uid: row.end})
MERGE (a)-[r:{{type}}]->(b)
SET r += row.props, r.source = 'rdf'
