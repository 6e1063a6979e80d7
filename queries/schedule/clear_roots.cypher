// name: schedule/clear_roots
// mode: write
// params: {"schedule": "demo:schedule:plan"}
// purpose: Removes a work schedule's links to its top-level activities, before its new version states them again.
MATCH (s:WorkSchedule {uid: $schedule})-[r:HAS_ACTIVITY]->()
DELETE r
