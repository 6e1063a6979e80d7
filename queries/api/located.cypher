// name: api/located
// mode: read
// params: {"uids": ["demo:storey-1"], "skip": 0, "limit": 50, "classes": null, "statuses": null, "brickClasses": null, "propKey": null, "propOp": null, "propValue": null, "scopeModel": null, "scopeBuilding": null}
// template: {"label": "Element", "key": "storey"}
// purpose: A page of the nodes located in each of several places (by their building/storey/space/model key), filtered, with totals.
UNWIND $uids AS uid
// one pass for all places (a CALL subquery per place costs FalkorDB about half a millisecond each)
OPTIONAL MATCH (c:{{label}})
WHERE c.{{key}} = uid
  AND ($classes IS NULL OR c.ifcClass IN $classes)
  AND ($statuses IS NULL OR c.status IN $statuses)
  AND ($brickClasses IS NULL OR c.brickClass IN $brickClasses)
  AND ($propKey IS NULL OR CASE $propOp
        WHEN 'eq' THEN c[$propKey] = $propValue WHEN 'ne' THEN c[$propKey] <> $propValue
        WHEN 'lt' THEN c[$propKey] < $propValue WHEN 'lte' THEN c[$propKey] <= $propValue
        WHEN 'gt' THEN c[$propKey] > $propValue WHEN 'gte' THEN c[$propKey] >= $propValue
        WHEN 'contains' THEN toString(c[$propKey]) CONTAINS toString($propValue)
        ELSE c[$propKey] IS NOT NULL END)
  AND ($scopeModel IS NULL OR c.model = $scopeModel)
  AND ($scopeBuilding IS NULL OR c.building = $scopeBuilding)
WITH uid, c ORDER BY coalesce(c.elevation, 0.0), c.name, c.uid
WITH uid, collect(c) AS found
RETURN uid, size(found) AS total, [n IN found[$skip..$skip + $limit] | {labels: labels(n), props: properties(n)}] AS items
