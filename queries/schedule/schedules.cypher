// name: schedule/schedules
// mode: read
// params: {"model": "demo"}
// purpose: The schedules whose activities a model holds ('' for the model file's own 4D tasks), with their activity counts.
MATCH (a:Activity {model: $model})
RETURN coalesce(a.schedule, '') AS schedule, count(*) AS activities
ORDER BY schedule
