// name: api/series
// mode: read
// params: {"uids": ["t-101"], "from": 1767225600000, "to": 1767229200000}
// purpose: The observation buckets of several points that overlap a time range, arrays included.
UNWIND $uids AS uid
MATCH (:Point {uid: uid})-[:HAS_OBSERVATIONS]->(b:ObservationBucket)
WHERE b.end > $from AND b.start < $to
RETURN uid, b.kind AS kind, b.start AS start, b.ts AS ts, b.values AS values, b.quality AS quality,
       b.counts AS counts, b.mins AS mins, b.maxs AS maxs
ORDER BY start
