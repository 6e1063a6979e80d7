// name: events/since
// mode: read
// params: {"since": 1767225600000, "limit": 1000}
// purpose: Events from a time on, oldest first (what live subscribers of another process have not heard yet).
MATCH (e:Event)
WHERE e.time >= $since
RETURN e.uid AS uid, e.kind AS kind, e.subject AS subject, e.model AS model,
       e.time AS time, e.source AS source, e.details AS details, e.scope AS scope
ORDER BY time
LIMIT $limit
