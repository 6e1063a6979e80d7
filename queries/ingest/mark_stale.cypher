// name: ingest/mark_stale
// mode: write
// params: {"points": ["t-101"]}
// purpose: Marks points stale when their source reports going offline (Sparkplug NDEATH/DDEATH); their next observation clears it.
UNWIND $points AS uid
MATCH (p:Point {uid: uid})
SET p.stale = true
RETURN count(p) AS marked
