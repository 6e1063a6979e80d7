// name: schedule/previous
// mode: read
// params: {"model": "demo", "schedule": "demo:schedule:plan"}
// purpose: The activities an imported schedule has now, with the progress recorded on them.
MATCH (a:Activity {model: $model})
WHERE a.schedule = $schedule
RETURN a.uid AS uid, a.percentComplete AS percentComplete, a.actualStart AS actualStart,
       a.actualFinish AS actualFinish, a.progressSource AS progressSource
