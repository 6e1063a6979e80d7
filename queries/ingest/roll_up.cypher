// name: ingest/roll_up
// mode: write
// params: {"rows": [{"uid": "t-101@1767225600000", "starts": [1767225600000], "counts": [60], "mins": [20.1], "maxs": [21.0], "avgs": [20.5]}], "every": 60000}
// purpose: Replaces a raw bucket's arrays by per-interval roll-ups; its count/sum/min/max totals stay as they are.
UNWIND $rows AS row
MATCH (b:ObservationBucket {uid: row.uid})
SET b.kind = 'rollup', b.interval = $every, b.ts = row.starts, b.values = row.avgs, b.counts = row.counts,
    b.mins = row.mins, b.maxs = row.maxs, b.quality = [], b.sorted = true
