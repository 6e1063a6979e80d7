// name: export/model
// mode: read
// params: {"model": "demo"}
// purpose: A model's catalogue entry (its source file) and its IFC projects, if the graph holds the model.
MATCH (m:Model {uid: $model})
OPTIONAL MATCH (p:Project {model: $model})
RETURN m.file AS file, collect(p.uid) AS projects
