// name: schedule/upsert_schedule
// mode: write
// params: {"uid": "demo:schedule:plan", "model": "demo", "props": {"name": "Plan", "identification": "plan", "format": "json", "file": "plan.json", "startTime": 1772438400000, "finishTime": 1773331200000, "calendar": "{\"weekdays\":[1,2,3,4,5],\"periods\":[[\"08:00\",\"16:00\"]]}", "importedAt": 1772438400000}}
// purpose: Creates or updates an imported work schedule by uid.
MERGE (s:WorkSchedule {uid: $uid})
SET s += $props, s.model = $model, s.source = 'schedule'
