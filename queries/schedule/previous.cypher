// name: schedule/previous
// mode: read
// params: {"model": "demo", "schedule": "demo:schedule:plan"}
// purpose: The activities an imported schedule has now, with all their properties (progress recorded on them included).
MATCH (a:Activity {model: $model})
WHERE a.schedule = $schedule
RETURN a.uid AS uid, properties(a) AS props
