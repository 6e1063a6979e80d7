// name: anomalies/get
// mode: read
// params: {"uid": "anomaly:0c1f"}
// purpose: One anomaly with all it records.
MATCH (a:Anomaly {uid: $uid})
RETURN properties(a) AS anomaly
