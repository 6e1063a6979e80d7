// name: ingest/append
// mode: write
// params: {"points": ["t-101"], "buckets": ["t-101@1767225600000"], "starts": [1767225600000], "ends": [1767226500000], "ts": [[1767225601000]], "values": [[21.5]], "quality": [["good"]], "latestTs": [1767225601000], "latestValue": [21.5], "latestQuality": ["good"]}
// purpose: Appends observations (one row per point and bucket, as parallel lists; times ascending) to bounded time buckets, once each.
UNWIND range(0, size($points) - 1) AS i
WITH i, {point: $points[i], bucket: $buckets[i], start: $starts[i], end: $ends[i], ts: $ts[i], values: $values[i],
        quality: $quality[i], latestTs: $latestTs[i], latestValue: $latestValue[i], latestQuality: $latestQuality[i]} AS row
MATCH (p:Point {uid: row.point})
MERGE (b:ObservationBucket {uid: row.bucket})
ON CREATE SET b.point = row.point, b.start = row.start, b.end = row.end, b.kind = 'raw', b.ts = [], b.values = [],
              b.quality = [], b.count = 0, b.sum = 0.0, b.sumsq = 0.0, b.lastTs = -1, b.sorted = true
MERGE (p)-[:HAS_OBSERVATIONS]->(b)
// Each list is read once into a variable: indexing `row.ts[i]` per element copies the list each time.
// In-order rows (the usual case) append whole; only a row reaching into the bucket's past is filtered.
WITH p, b, row, row.ts AS rowTs, row.values AS rowValues, row.quality AS rowQuality, row.ts[0] > b.lastTs AS after
WITH p, b, row, rowTs, rowValues, rowQuality, after,
     CASE WHEN after THEN [] ELSE [i IN range(0, size(rowTs) - 1) WHERE NOT rowTs[i] IN b.ts] END AS fresh
WITH p, b, row,
     CASE WHEN after THEN rowTs ELSE [i IN fresh | rowTs[i]] END AS stamps,
     CASE WHEN after THEN rowValues ELSE [i IN fresh | rowValues[i]] END AS vals,
     CASE WHEN after THEN rowQuality ELSE [i IN fresh | rowQuality[i]] END AS quals
WITH p, b, row, stamps, vals, quals, b.count AS before,
     size(stamps) = 0 OR stamps[0] > b.lastTs AS inOrder,
     size([q IN quals WHERE q <> 'good']) = 0 AS allGood,
     reduce(m = b.lastTs, t IN stamps | CASE WHEN t > m THEN t ELSE m END) AS lastTs,
     reduce(s = 0.0, v IN vals | s + v) AS addSum,
     reduce(s = 0.0, v IN vals | s + v * v) AS addSumSq,
     reduce(m = b.min, v IN vals | CASE WHEN m IS NULL OR v < m THEN v ELSE m END) AS newMin,
     reduce(m = b.max, v IN vals | CASE WHEN m IS NULL OR v > m THEN v ELSE m END) AS newMax
// A raw bucket keeps its quality list empty while every reading in it is good (a list of strings
// copied on each append costs as much as the times and values together); the first other quality
// writes the list out in full.
SET b.ts = b.ts + stamps, b.values = b.values + vals,
    b.quality = CASE WHEN size(b.quality) > 0 THEN b.quality + quals
                     WHEN allGood THEN b.quality
                     ELSE [k IN range(1, before) | 'good'] + quals END,
    b.sorted = b.sorted AND inOrder, b.lastTs = lastTs, b.count = before + size(stamps),
    b.sum = b.sum + addSum, b.sumsq = b.sumsq + addSumSq, b.min = newMin, b.max = newMax
// No WHERE after the SETs above: FalkorDB drops earlier updates of rows a later filter removes.
WITH p, row, p.lastTime IS NULL OR row.latestTs >= p.lastTime AS newest
SET p.lastValue = CASE WHEN newest THEN row.latestValue ELSE p.lastValue END,
    p.lastQuality = CASE WHEN newest THEN row.latestQuality ELSE p.lastQuality END,
    p.lastTime = CASE WHEN newest THEN row.latestTs ELSE p.lastTime END,
    p.stale = false
