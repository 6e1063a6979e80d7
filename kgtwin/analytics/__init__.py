"""What the twin computes from its graph: KPIs, schedule performance, anomalies and forecasts."""
