// name: schedule/clear_links
// mode: write
// params: {"model": "demo", "schedule": "demo:schedule:plan"}
// purpose: Removes the links an imported schedule stated (nesting, sequence, construction), before its new version states them again.
MATCH (a:Activity {model: $model})-[r]->()
WHERE a.schedule = $schedule AND r.source = 'schedule'
DELETE r
