// name: schedule/element_progress
// mode: read
// params: {"uids": ["demo:2O2Fr$t4X7Zf8NOew3FLOH"], "schedule": "demo:schedule:plan"}
// purpose: For each element, its status and the percent complete of every (non-summary) activity of one schedule ('' for the model file's own 4D) that constructs it.
UNWIND $uids AS uid
MATCH (x:Element {uid: uid})<-[:CONSTRUCTS]-(a:Activity)
WHERE coalesce(a.summary, false) = false AND coalesce(a.schedule, '') = $schedule
RETURN x.uid AS uid, x.status AS status, collect(coalesce(a.percentComplete, 0.0)) AS percents
