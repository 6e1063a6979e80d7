// name: schedule/upsert_activities
// mode: write
// params: {"rows": [{"uid": "demo:schedule:plan:A10", "props": {"uid": "demo:schedule:plan:A10", "model": "demo", "name": "Slab L1", "identification": "A10", "scheduleStart": 1772438400000, "scheduleFinish": 1772467200000, "durationHours": 8.0}}]}
// purpose: Creates or updates an imported schedule's activities by uid with their whole property map.
// The whole map, not `+=` with nulls: FalkorDB 4.16 loses properties when one operation removes several keys of a node.
UNWIND $rows AS row
MERGE (a:Activity {uid: row.uid})
SET a = row.props
