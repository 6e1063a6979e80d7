// name: kpis/anomalies
// mode: read
// params: {"model": "demo", "building": null, "storey": null, "space": null}
// purpose: Anomalies that are not resolved, per place, severity and state.
MATCH (a:Anomaly)
WHERE a.model = $model AND a.state <> 'resolved'
  AND ($building IS NULL OR a.building = $building)
  AND ($storey IS NULL OR a.storey = $storey)
  AND ($space IS NULL OR a.space = $space)
RETURN a.building AS building, a.storey AS storey, a.space AS space, a.severity AS severity, a.state AS state,
       count(*) AS count
