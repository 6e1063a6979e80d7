// name: ingest/raw_buckets_before
// mode: read
// params: {"before": 1767225600000, "limit": 1000}
// purpose: Raw observation buckets that ended before a time: what retention rolls up next.
MATCH (b:ObservationBucket)
WHERE b.kind = 'raw' AND b.end <= $before
RETURN b.uid AS uid, b.ts AS ts, b.values AS values
ORDER BY b.end
LIMIT $limit
