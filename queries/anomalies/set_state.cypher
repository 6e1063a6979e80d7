// name: anomalies/set_state
// mode: write
// params: {"uid": "anomaly:0c1f", "expected": "open", "props": {"state": "acknowledged", "stateTime": 1767225700000, "stateBy": "field:site-lead", "stateNote": "technician on the way", "acknowledgedBy": "field:site-lead", "acknowledgedAt": 1767225700000}}
// purpose: Moves an anomaly along its workflow (open, acknowledged, resolved) if it is still in the state the caller saw.
MATCH (a:Anomaly {uid: $uid})
WHERE a.state = $expected
SET a += $props
RETURN properties(a) AS anomaly
