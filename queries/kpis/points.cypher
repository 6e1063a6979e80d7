// name: kpis/points
// mode: read
// params: {"model": "demo", "building": null, "storey": null, "space": null, "brickClasses": null, "now": 1767225600000, "defaultInterval": 300, "silentAfter": 3}
// purpose: Points per place and Brick class, by whether they report, went stale (silent past their window, or flagged) or never reported.
MATCH (p:Point)
WHERE p.model = $model
  AND ($building IS NULL OR p.building = $building)
  AND ($storey IS NULL OR p.storey = $storey)
  AND ($space IS NULL OR p.space = $space)
  AND ($brickClasses IS NULL OR p.brickClass IN $brickClasses)
WITH p, $now - p.lastTime <= $silentAfter * 1000 * coalesce(p.expectedInterval, $defaultInterval) AS fresh
RETURN p.building AS building, p.storey AS storey, p.space AS space, p.brickClass AS brickClass, count(*) AS count,
       sum(CASE WHEN p.lastTime IS NOT NULL AND fresh AND NOT coalesce(p.stale, false) THEN 1 ELSE 0 END) AS reporting,
       sum(CASE WHEN p.lastTime IS NOT NULL AND (NOT fresh OR coalesce(p.stale, false)) THEN 1 ELSE 0 END) AS stale,
       sum(CASE WHEN p.lastTime IS NULL THEN 1 ELSE 0 END) AS silent,
       avg(p.lastValue) AS latestAvg, min(p.lastValue) AS latestMin, max(p.lastValue) AS latestMax
