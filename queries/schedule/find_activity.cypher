// name: schedule/find_activity
// mode: read
// params: {"uid": "demo:schedule:plan:A10", "model": "demo", "identification": "A10"}
// purpose: An activity by uid, or by its id in the schedule (identification) or its name within a model.
MATCH (a:Activity)
WHERE a.uid = $uid OR (a.model = $model AND (a.identification = $identification OR a.name = $identification))
RETURN a.uid AS uid, properties(a) AS props
