// name: schedule/link
// mode: write
// params: {"rows": [{"start": "demo:schedule:plan:A05", "end": "demo:schedule:plan:A10", "props": {"type": "FINISH_START", "lagHours": 16.0}}]}
// template: {"start": "Activity", "end": "Activity", "type": "PRECEDES"}
// purpose: Links an imported schedule's nodes (HAS_ACTIVITY, HAS_SUB_ACTIVITY, PRECEDES, CONSTRUCTS).
UNWIND $rows AS row
MATCH (a:{{start}} {uid: row.start})
MATCH (b:{{end}} {uid: row.end})
MERGE (a)-[r:{{type}}]->(b)
SET r += row.props, r.source = 'schedule'
