// name: rdf/upsert_nodes
// mode: write
// params: {"rows": [{"uid": "soda:vav_C180", "props": {"name": "VAV C180", "brickClass": "VAV"}}], "model": "soda"}
// template: {"label": "Equipment", "labels": ["Equipment", "VAV"]}
// purpose: Creates or updates the nodes an RDF model describes, by uid (RDF import).
UNWIND $rows AS row
MERGE (n:{{label}} {uid: row.uid})
SET n += row.props, n.model = $model, n.source = 'rdf', n{{labels}}
