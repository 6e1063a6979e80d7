// name: schedule/set_progress
// mode: write
// params: {"uid": "demo:schedule:plan:A10", "props": {"uid": "demo:schedule:plan:A10", "model": "demo", "name": "Slab L1", "percentComplete": 40.0, "actualStart": 1772438400000, "progressTime": 1772524800000, "progressSource": "progress"}}
// purpose: Records an activity's progress (its whole property map, see schedule/upsert_activities); returns the elements it constructs and where they are.
MATCH (a:Activity {uid: $uid})
SET a = $props
WITH a
OPTIONAL MATCH (a)-[:CONSTRUCTS]->(e:Element)
RETURN a.model AS model, collect({uid: e.uid, storey: e.storey, building: e.building}) AS elements
