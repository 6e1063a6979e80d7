// name: schedule/upsert_activities
// mode: write
// params: {"rows": [{"uid": "demo:schedule:plan:A10", "props": {"name": "Slab L1", "identification": "A10", "scheduleStart": 1772438400000, "scheduleFinish": 1772467200000, "durationHours": 8.0}}], "model": "demo", "schedule": "demo:schedule:plan", "load": "load-1"}
// purpose: Creates or updates an imported schedule's activities by uid; a null in props removes what the file no longer states.
UNWIND $rows AS row
MERGE (a:Activity {uid: row.uid})
SET a += row.props, a.model = $model, a.schedule = $schedule, a.loadId = $load, a.source = 'schedule'
