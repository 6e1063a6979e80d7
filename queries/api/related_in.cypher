// name: api/related_in
// mode: read
// params: {"uids": ["demo:space-1"], "skip": 0, "limit": 50, "scopeModel": null, "scopeBuilding": null}
// template: {"start": "Storey", "type": "HAS_SPACE", "end": "Space"}
// purpose: The other way round: a page of the nodes that link to each of several nodes by one relationship type.
UNWIND $uids AS uid
CALL {
  WITH uid
  MATCH (c:{{start}})-[r:{{type}}]->(:{{end}} {uid: uid})
  WHERE ($scopeModel IS NULL OR c.model = $scopeModel)
    AND ($scopeBuilding IS NULL OR c.building = $scopeBuilding OR c.uid = $scopeBuilding)
  WITH c, r ORDER BY coalesce(c.elevation, 0.0), c.name, c.uid
  WITH collect({labels: labels(c), props: properties(c), link: properties(r)}) AS found
  RETURN size(found) AS total, found[$skip..$skip + $limit] AS items
}
RETURN uid, total, items
