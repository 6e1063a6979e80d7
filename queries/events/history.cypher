// name: events/history
// mode: read
// params: {"subject": "demo:2O2Fr$t4X7Zf8NOew3FLOH", "kinds": ["status_change"], "from": 0, "to": 1767225600000, "limit": 100}
// purpose: What happened to a node over a time range (status and property history, anomalies), newest first.
MATCH (e:Event)
WHERE e.subject = $subject AND e.kind IN $kinds AND e.time >= $from AND e.time < $to
RETURN e.uid AS uid, e.kind AS kind, e.subject AS subject, e.model AS model, e.time AS time,
       e.source AS source, e.details AS details, e.scope AS scope
ORDER BY time DESC
LIMIT $limit
