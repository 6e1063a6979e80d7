// name: anomalies/update
// mode: write
// params: {"rows": [{"uid": "anomaly:0c1f", "props": {"lastSeen": 1767225660000, "value": 36.0, "score": 11.2, "severity": "critical"}}]}
// purpose: Updates anomalies the detectors follow: last seen, worst value, severity, end and whether still active.
UNWIND $rows AS row
MATCH (a:Anomaly {uid: row.uid})
SET a += row.props
