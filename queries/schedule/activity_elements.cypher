// name: schedule/activity_elements
// mode: read
// params: {"uids": ["demo:schedule:plan:A10"]}
// purpose: The elements each activity constructs, with the activity's progress and actual dates.
UNWIND $uids AS uid
MATCH (a:Activity {uid: uid})-[:CONSTRUCTS]->(e:Element)
RETURN a.uid AS uid, a.percentComplete AS percentComplete, a.actualStart AS actualStart,
       a.actualFinish AS actualFinish, collect(e.uid) AS elements
