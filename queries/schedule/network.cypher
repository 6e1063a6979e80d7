// name: schedule/network
// mode: read
// params: {"model": "demo"}
// purpose: A model's activities with their dates, progress, nesting, schedule, predecessors and the elements (with storey and building) they construct.
MATCH (a:Activity {model: $model})
OPTIONAL MATCH (parent:Activity)-[:HAS_SUB_ACTIVITY]->(a)
OPTIONAL MATCH (ws:WorkSchedule)-[:HAS_ACTIVITY]->(a)
WITH a, head(collect(DISTINCT parent.uid)) AS parent, collect(DISTINCT ws.uid) AS schedules
OPTIONAL MATCH (p:Activity)-[l:PRECEDES]->(a)
WITH a, parent, schedules, collect({uid: p.uid, type: l.type, lagHours: l.lagHours}) AS predecessors
OPTIONAL MATCH (a)-[:CONSTRUCTS]->(e:Element)
RETURN a.uid AS uid, properties(a) AS props, parent, schedules, predecessors,
       collect({uid: e.uid, storey: e.storey, building: e.building}) AS elements
ORDER BY uid
