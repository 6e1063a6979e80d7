// name: schedule/places
// mode: read
// params: {"model": "demo"}
// purpose: A model's buildings and storeys with their names, for schedule figures rolled up by place.
MATCH (b:Building {model: $model})
OPTIONAL MATCH (b)-[:HAS_STOREY]->(s:Storey)
RETURN b.uid AS uid, b.name AS name, collect({uid: s.uid, name: s.name, elevation: s.elevation}) AS storeys
ORDER BY uid
