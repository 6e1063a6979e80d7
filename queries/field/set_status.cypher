// name: field/set_status
// mode: write
// params: {"uids": ["demo:2O2Fr$t4X7Zf8NOew3FLOH"], "status": "in_progress", "keepIssue": false, "time": 1767225600000, "source": "field:site-lead"}
// purpose: Sets elements' status where it changes (an 'issue' stays when keepIssue); returns the changed ones.
UNWIND $uids AS uid
MATCH (e:Element {uid: uid})
WITH e, e.status AS previous
WHERE (previous IS NULL OR previous <> $status) AND NOT ($keepIssue AND previous = 'issue')
SET e.status = $status, e.statusTime = $time, e.statusSource = $source
RETURN e.uid AS uid, previous, e.model AS model, e.building AS building, e.storey AS storey, e.space AS space
