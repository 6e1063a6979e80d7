// name: schedule/set_progress
// mode: write
// params: {"uid": "demo:schedule:plan:A10", "props": {"percentComplete": 40.0, "actualStart": 1772438400000, "actualFinish": null, "progressTime": 1772524800000, "progressSource": "schedule"}}
// purpose: Records an activity's progress; returns the elements it constructs and where they are.
MATCH (a:Activity {uid: $uid})
SET a += $props
WITH a
OPTIONAL MATCH (a)-[:CONSTRUCTS]->(e:Element)
RETURN a.model AS model, collect({uid: e.uid, storey: e.storey, building: e.building}) AS elements
