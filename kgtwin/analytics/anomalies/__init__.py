"""Anomaly detection on every incoming observation: streaming detectors per point, anomalies in the graph."""
