// name: ingest/series
// mode: read
// params: {"point": "t-101", "from": 1767225600000, "to": 1767229200000}
// purpose: The buckets of a point (by field id or uid) that overlap a time range, raw arrays included.
MATCH (p:Point)-[:HAS_OBSERVATIONS]->(b:ObservationBucket)
WHERE (p.pointId = $point OR p.uid = $point) AND b.end > $from AND b.start < $to
RETURN b.kind AS kind, b.start AS start, b.end AS end, b.ts AS ts, b.values AS values, b.quality AS quality
ORDER BY start
