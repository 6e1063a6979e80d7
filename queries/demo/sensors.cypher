// name: demo/sensors
// mode: read
// params: {"model": "demo"}
// purpose: The IFC sensors of a model with their class, room and host, from which the demo writes its sensor registry.
MATCH (p:Point:Element {model: $model})
OPTIONAL MATCH (h)-[:HAS_POINT]->(p)
OPTIONAL MATCH (s:Space {uid: p.space})
WITH p, s, collect(h) AS hosts
WITH p, s, [h IN hosts WHERE h.ifcClass = 'IfcSlab'] + hosts AS hosts
RETURN p.uid AS uid, p.globalId AS globalId, p.name AS name, p.brickClass AS brickClass, p.space AS space,
       s.name AS spaceName, hosts[0].uid AS host, hosts[0].ifcClass AS hostClass
ORDER BY uid
