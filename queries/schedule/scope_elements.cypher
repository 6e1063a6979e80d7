// name: schedule/scope_elements
// mode: read
// params: {"model": "demo", "scope": "demo:0vBGiYwDr0EvhZx7pwYsZv"}
// template: {"key": "storey"}
// purpose: The elements of a scope (key: model, building, storey, space or uid) with their activities' planned dates and their status history.
MATCH (x:Element {model: $model})
WHERE x.{{key}} = $scope
OPTIONAL MATCH (a:Activity)-[:CONSTRUCTS]->(x)
WITH x, collect({start: a.scheduleStart, finish: a.scheduleFinish, summary: a.summary, schedule: a.schedule}) AS plan
OPTIONAL MATCH (ev:Event)-[:ABOUT]->(x)
WHERE ev.kind = 'status_change'
RETURN x.uid AS uid, x.name AS name, x.ifcClass AS ifcClass, x.status AS status, plan,
       collect({time: ev.time, details: ev.details}) AS history
ORDER BY uid
