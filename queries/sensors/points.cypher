// name: sensors/points
// mode: read
// params: {"model": "demo"}
// purpose: A model's points (every point when model is null) with unit, limits, field names and what they measure.
MATCH (p:Point)
WHERE $model IS NULL OR p.model = $model
OPTIONAL MATCH (t)-[r:HAS_POINT]->(p)
WITH p, collect({uid: t.uid, labels: labels(t), ifcClass: t.ifcClass, property: r.property}) AS targets
RETURN p.uid AS uid, p.pointId AS pointId, p.brickClass AS brickClass, p.unit AS unit,
       p.expectedInterval AS interval, p.minLimit AS minLimit, p.maxLimit AS maxLimit, p.name AS name,
       p.objectType AS objectType, p.space AS space, p.storey AS storey, p.sparkplugName AS sparkplug,
       p.opcuaNodeId AS opcua, targets
ORDER BY uid
