// name: api/anomalies
// mode: read
// params: {"model": "demo", "states": ["open", "acknowledged"], "severities": null, "kinds": null, "since": null, "skip": 0, "limit": 50, "scopeModel": null, "scopeBuilding": null}
// purpose: A page of a model's anomalies, newest first, filtered by state, severity, kind and start time, with the total.
MATCH (a:Anomaly)
WHERE a.model = $model
  AND ($states IS NULL OR a.state IN $states)
  AND ($severities IS NULL OR a.severity IN $severities)
  AND ($kinds IS NULL OR a.kind IN $kinds)
  AND ($since IS NULL OR a.start >= $since)
  AND ($scopeModel IS NULL OR a.model = $scopeModel)
  AND ($scopeBuilding IS NULL OR a.building = $scopeBuilding)
WITH a ORDER BY a.start DESC
WITH collect(properties(a)) AS found
RETURN size(found) AS total, found[$skip..$skip + $limit] AS items
