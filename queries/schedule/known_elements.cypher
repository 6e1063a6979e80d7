// name: schedule/known_elements
// mode: read
// params: {"uids": ["demo:2O2Fr$t4X7Zf8NOew3FLOH"]}
// purpose: Which of the given element uids the graph holds (what a schedule's activities can be linked to).
UNWIND $uids AS uid
MATCH (e:Element {uid: uid})
RETURN e.uid AS uid
