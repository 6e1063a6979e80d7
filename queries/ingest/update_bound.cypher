// name: ingest/update_bound
// mode: write
// params: {"rows": [{"target": "demo:2O2Fr$t4X7Zf8NOew3FLOH", "point": "t-101", "ts": 1767225601000, "property": "temperature", "rule": "physical_wins", "props": {"temperature": 21.5, "temperature.time": 1767225601000, "temperature.source": "sensor:t-101"}}]}
// template: {"label": "Element"}
// purpose: Sets element properties bound to points, when the batch carried the point's newest value and the binding's conflict rule lets the sensor write.
UNWIND $rows AS row
MATCH (p:Point {uid: row.point})
WHERE p.lastTime = row.ts
MATCH (t:{{label}} {uid: row.target})
WHERE NOT (row.rule = 'field_wins' AND row.property IN coalesce(t.fieldOverrides, []))
  AND NOT (row.rule = 'latest_wins' AND coalesce(t[row.property + '.time'], 0) > row.ts)
SET t += row.props
