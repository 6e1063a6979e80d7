// name: api/point_by_field_id
// mode: read
// params: {"pointId": "t-101", "scopeModel": null, "scopeBuilding": null}
// purpose: A point by the id the field uses for it, within a key's scope.
MATCH (p:Point {pointId: $pointId})
WHERE ($scopeModel IS NULL OR p.model = $scopeModel) AND ($scopeBuilding IS NULL OR p.building = $scopeBuilding)
RETURN labels(p) AS labels, properties(p) AS props
