// name: api/recent_events
// mode: read
// params: {"model": "demo", "within": null, "kinds": null, "limit": 50, "scopeModel": null, "scopeBuilding": null}
// purpose: The latest events of a model, optionally only those concerning one node or place, newest first.
MATCH (e:Event)
WHERE e.model = $model
  AND ($kinds IS NULL OR e.kind IN $kinds)
  AND ($within IS NULL OR e.subject = $within OR $within IN e.scope)
  AND ($scopeModel IS NULL OR e.model = $scopeModel)
  AND ($scopeBuilding IS NULL OR $scopeBuilding IN e.scope)
RETURN e.uid AS uid, e.kind AS kind, e.subject AS subject, e.model AS model, e.time AS time, e.source AS source,
       e.details AS details, e.scope AS scope
ORDER BY time DESC
LIMIT $limit
