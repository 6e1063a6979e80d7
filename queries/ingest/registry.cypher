// name: ingest/registry
// mode: read
// params: {}
// purpose: Every point with its field id, unit, limits and the element properties it is bound to.
MATCH (p:Point)
OPTIONAL MATCH (t)-[r:HAS_POINT]->(p)
WHERE r.property IS NOT NULL
RETURN p.uid AS uid, p.pointId AS pointId, p.unit AS unit, p.brickClass AS brickClass, p.model AS model,
       p.expectedInterval AS interval, p.minLimit AS minLimit, p.maxLimit AS maxLimit,
       collect({target: t.uid, labels: labels(t), property: r.property, unit: r.unit, scale: r.scale, offset: r.offset,
               conflict: r.conflict}) AS bindings
