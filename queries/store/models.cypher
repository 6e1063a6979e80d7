// name: store/models
// mode: read
// params: {}
// purpose: The models held in the graph, with when each was last loaded.
MATCH (m:Model)
RETURN m.uid AS model, m.name AS name, m.loadedAt AS loadedAt
ORDER BY model
