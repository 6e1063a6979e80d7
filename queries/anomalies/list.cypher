// name: anomalies/list
// mode: read
// params: {"model": "demo", "state": "open", "point": null, "kind": null, "active": null, "within": null, "since": null, "limit": 100}
// purpose: Anomalies, newest first, by model, state, point, kind, whether still active, and a place they concern (a storey, a room).
MATCH (a:Anomaly)
WHERE ($model IS NULL OR a.model = $model) AND ($state IS NULL OR a.state = $state)
  AND ($point IS NULL OR a.point = $point) AND ($kind IS NULL OR a.kind = $kind)
  AND ($active IS NULL OR a.active = $active) AND ($since IS NULL OR a.start >= $since)
  AND ($within IS NULL OR $within IN a.scope)
RETURN a.uid AS uid, a.model AS model, a.point AS point, a.target AS target, a.kind AS kind,
       a.detector AS detector, a.severity AS severity, a.state AS state, a.active AS active,
       a.start AS start, a.end AS end, a.lastSeen AS lastSeen, a.value AS value, a.message AS message,
       a.building AS building, a.storey AS storey, a.space AS space
ORDER BY start DESC
LIMIT $limit
