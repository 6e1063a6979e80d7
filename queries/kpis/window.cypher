// name: kpis/window
// mode: read
// params: {"model": "demo", "building": null, "storey": null, "space": null, "brickClasses": null, "points": null, "from": 1767225600000, "to": 1767229200000}
// purpose: Per point count/sum/min/max of its observations in a time window: whole buckets by their totals, edge buckets value by value.
MATCH (p:Point)
WHERE ($points IS NULL OR p.uid IN $points)
  AND ($model IS NULL OR p.model = $model)
  AND ($building IS NULL OR p.building = $building)
  AND ($storey IS NULL OR p.storey = $storey)
  AND ($space IS NULL OR p.space = $space)
  AND ($brickClasses IS NULL OR p.brickClass IN $brickClasses)
// coalesce on the arrays below: FalkorDB evaluates a CASE's branches even for rows that do not take them
OPTIONAL MATCH (p)-[:HAS_OBSERVATIONS]->(b:ObservationBucket)
WHERE b.end > $from AND b.start < $to
WITH p, b, b IS NOT NULL AND b.start >= $from AND b.end <= $to AS whole, b.kind = 'rollup' AS rolled
WITH p, b, whole, rolled,
     CASE WHEN b IS NULL OR whole THEN [] ELSE [i IN range(0, size(coalesce(b.ts, [])) - 1) WHERE b.ts[i] >= $from AND b.ts[i] < $to] END AS idx
WITH p,
     CASE WHEN b IS NULL THEN 0 WHEN whole THEN b.count
          WHEN rolled THEN reduce(s = 0, i IN idx | s + b.counts[i]) ELSE size(idx) END AS n,
     CASE WHEN b IS NULL THEN 0.0 WHEN whole THEN b.sum
          WHEN rolled THEN reduce(s = 0.0, i IN idx | s + b.values[i] * b.counts[i])
          ELSE reduce(s = 0.0, i IN idx | s + b.values[i]) END AS total,
     CASE WHEN b IS NULL THEN null WHEN whole THEN b.min
          WHEN rolled THEN reduce(m = null, i IN idx | CASE WHEN m IS NULL OR b.mins[i] < m THEN b.mins[i] ELSE m END)
          ELSE reduce(m = null, i IN idx | CASE WHEN m IS NULL OR b.values[i] < m THEN b.values[i] ELSE m END) END AS lo,
     CASE WHEN b IS NULL THEN null WHEN whole THEN b.max
          WHEN rolled THEN reduce(m = null, i IN idx | CASE WHEN m IS NULL OR b.maxs[i] > m THEN b.maxs[i] ELSE m END)
          ELSE reduce(m = null, i IN idx | CASE WHEN m IS NULL OR b.values[i] > m THEN b.values[i] ELSE m END) END AS hi
RETURN p.uid AS point, p.brickClass AS brickClass, p.building AS building, p.storey AS storey, p.space AS space,
       p.lastValue AS lastValue, p.lastTime AS lastTime, sum(n) AS count, sum(total) AS sum, min(lo) AS min, max(hi) AS max
