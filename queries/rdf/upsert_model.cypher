// name: rdf/upsert_model
// mode: write
// params: {"model": "soda", "file": "soda_brick.ttl", "ifcFile": null, "now": 1767225600000}
// purpose: Records a model an RDF import wrote into in the graph's catalogue of models (with the IFC file it names, if none is known).
MERGE (m:Model {uid: $model})
ON CREATE SET m.model = $model, m.name = $file
SET m.rdfFile = $file, m.importedAt = $now, m.file = coalesce(m.file, $ifcFile)
