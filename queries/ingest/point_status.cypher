// name: ingest/point_status
// mode: write
// params: {"rows": [{"point": "t-101", "ts": 1767225601000, "quality": "bad:BadSensorFailure"}]}
// purpose: A status that came without a value (OPC UA Bad) becomes the point's latest quality, unless a newer reading is there.
UNWIND $rows AS row
MATCH (p:Point {uid: row.point})
WITH p, row
WHERE p.lastTime IS NULL OR row.ts >= p.lastTime
SET p.lastQuality = row.quality, p.lastQualityTime = row.ts
