// name: forecasts/point
// mode: read
// params: {"point": "t-101"}
// purpose: A point (by field id or uid) with what a forecast needs: its unit, limits and latest reading time.
MATCH (p:Point)
WHERE p.pointId = $point OR p.uid = $point
RETURN p.uid AS uid, p.pointId AS pointId, p.unit AS unit, p.minLimit AS minLimit, p.maxLimit AS maxLimit,
       p.lastTime AS lastTime, p.brickClass AS brickClass
LIMIT 1
