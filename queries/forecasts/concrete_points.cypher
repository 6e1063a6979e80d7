// name: forecasts/concrete_points
// mode: read
// params: {"model": "demo", "classes": ["IfcSlab", "IfcWall"], "pointClasses": ["Temperature_Sensor", "Air_Temperature_Sensor"]}
// purpose: Temperature points bound to or hosted by a model's slabs and walls, with each element's cast time and maturity settings.
MATCH (e:Element)-[:HAS_POINT]->(p:Point)
WHERE e.model = $model AND e.ifcClass IN $classes AND p.brickClass IN $pointClasses
RETURN e.uid AS element, e.name AS name, e.ifcClass AS ifcClass, e.castTime AS castTime,
       e.maturityTarget AS target, e.maturityDatum AS datum, p.uid AS point, p.pointId AS pointId, p.unit AS unit
ORDER BY element, point
