// name: api/events_of
// mode: read
// params: {"subjects": ["demo:2O2Fr$t4X7Zf8NOew3FLOH"], "kinds": ["status_change", "property_update"], "from": 0, "to": 1767225600000, "limit": 50}
// purpose: The history of several nodes (their events of some kinds in a time range), newest first, at most `limit` each.
UNWIND $subjects AS subject
CALL {
  WITH subject
  MATCH (e:Event)
  WHERE e.subject = subject AND e.kind IN $kinds AND e.time >= $from AND e.time < $to
  WITH e ORDER BY e.time DESC LIMIT $limit
  RETURN collect(e {.*}) AS events
}
UNWIND events AS e
RETURN subject, e.uid AS uid, e.kind AS kind, e.model AS model, e.time AS time, e.source AS source,
       e.details AS details, e.scope AS scope
