// name: ifc/upsert_model
// mode: write
// params: {"model": "demo", "props": {"name": "Demo", "schema": "IFC4", "file": "demo.ifc", "loadedAt": 1767225600000}}
// purpose: Records a model in the graph's catalogue of models, linked to its IFC project.
MERGE (m:Model {uid: $model})
SET m += $props, m.model = $model
WITH m
OPTIONAL MATCH (p:Project {model: $model})
FOREACH (_ IN CASE WHEN p IS NULL THEN [] ELSE [1] END | MERGE (m)-[:DESCRIBES]->(p))
