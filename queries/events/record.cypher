// name: events/record
// mode: write
// params: {"rows": [{"uid": "event:1", "kind": "status_change", "subject": "demo:2O2Fr$t4X7Zf8NOew3FLOH", "model": "demo", "time": 1767225600000, "source": "field:site-lead", "details": "{\"from\": \"planned\", \"to\": \"in_progress\"}", "scope": ["demo:0vBGiYwDr0EvhZx7pwYsZv"]}]}
// template: {"label": "Element"}
// purpose: Records events in the twin's history, each linked to the node it is about.
UNWIND $rows AS row
CREATE (e:Event {uid: row.uid, kind: row.kind, subject: row.subject, model: row.model, time: row.time,
                 source: row.source, details: row.details, scope: row.scope})
WITH e, row
MATCH (s:{{label}} {uid: row.subject})
CREATE (e)-[:ABOUT]->(s)
