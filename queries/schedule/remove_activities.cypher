// name: schedule/remove_activities
// mode: write
// params: {"model": "demo", "schedule": "demo:schedule:plan", "load": "load-1"}
// purpose: Deletes the activities of an imported schedule that its new version no longer has.
MATCH (a:Activity {model: $model})
WHERE a.schedule = $schedule AND a.loadId <> $load
DETACH DELETE a
