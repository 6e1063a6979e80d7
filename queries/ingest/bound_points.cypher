// name: ingest/bound_points
// mode: read
// params: {"target": "demo:2O2Fr$t4X7Zf8NOew3FLOH", "model": null}
// purpose: The points bound to an element or space (by uid, or by GlobalId within a model), with each binding's property and unit transform.
MATCH (t)-[r:HAS_POINT]->(p:Point)
WHERE t.uid = $target OR (t.globalId = $target AND ($model IS NULL OR t.model = $model))
RETURN t.uid AS target, r.property AS property, r.unit AS unit, r.scale AS scale, r.offset AS offset,
       p.uid AS point, p.pointId AS pointId, p.unit AS pointUnit
ORDER BY target, property, point
