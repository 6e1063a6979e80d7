// name: anomalies/active
// mode: read
// params: {}
// purpose: Anomalies the detectors were still following when they stopped (a restarted monitor continues them).
MATCH (a:Anomaly)
WHERE a.active = true
RETURN properties(a) AS anomaly
