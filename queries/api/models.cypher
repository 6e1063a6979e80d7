// name: api/models
// mode: read
// params: {"scopeModel": null}
// purpose: The models in the graph with their project and load details.
MATCH (m:Model)
WHERE $scopeModel IS NULL OR m.uid = $scopeModel
RETURN properties(m) AS props
ORDER BY m.uid
