"""Anomaly detection on every incoming observation: streaming detectors per point, anomalies in the graph.

config     detector settings and conditions (YAML), per Brick class and point
detectors  the detectors over many points at once
episodes   hysteresis and cool-down: readings' verdicts into anomalies
records    anomalies in the graph, their events, the acknowledge/resolve workflow
monitor    detection beside the ingestion pipeline, the silence timer
scan       backtesting over a recorded series
"""

from kgtwin.analytics.anomalies.config import DetectorConfig, load_config
from kgtwin.analytics.anomalies.records import (
    AnomalyError,
    InvalidTransition,
    UnknownAnomaly,
    acknowledge,
    get_anomaly,
    list_anomalies,
    resolve,
)

__all__ = [
    "AnomalyError",
    "DetectorConfig",
    "InvalidTransition",
    "UnknownAnomaly",
    "acknowledge",
    "get_anomaly",
    "list_anomalies",
    "load_config",
    "resolve",
]
