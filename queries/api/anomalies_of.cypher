// name: api/anomalies_of
// mode: read
// params: {"uids": ["t-101"], "states": null, "limit": 50, "scopeModel": null, "scopeBuilding": null}
// purpose: For each of several nodes, the anomalies that concern it (raised on it, affecting it, in it, or in its model), newest first.
UNWIND $uids AS uid
CALL {
  WITH uid
  MATCH (a:Anomaly)
  WHERE (a.model = uid OR uid IN coalesce(a.scope, []))
    AND ($states IS NULL OR a.state IN $states)
    AND ($scopeModel IS NULL OR a.model = $scopeModel)
    AND ($scopeBuilding IS NULL OR a.building = $scopeBuilding)
  WITH a ORDER BY a.start DESC LIMIT $limit
  RETURN collect(properties(a)) AS anomalies
}
RETURN uid, anomalies
