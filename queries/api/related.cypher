// name: api/related
// mode: read
// params: {"uids": ["demo:storey-1"], "skip": 0, "limit": 50, "scopeModel": null, "scopeBuilding": null}
// template: {"start": "Storey", "type": "HAS_SPACE", "end": "Space"}
// purpose: A page of the nodes each of several nodes links to by one relationship type, with totals and the links' properties.
UNWIND $uids AS uid
CALL {
  WITH uid
  MATCH (:{{start}} {uid: uid})-[r:{{type}}]->(c:{{end}})
  WHERE ($scopeModel IS NULL OR c.model = $scopeModel)
    AND ($scopeBuilding IS NULL OR c.building = $scopeBuilding OR c.uid = $scopeBuilding)
  WITH c, r ORDER BY coalesce(c.elevation, 0.0), c.name, c.uid
  WITH collect({labels: labels(c), props: properties(c), link: properties(r)}) AS found
  RETURN size(found) AS total, found[$skip..$skip + $limit] AS items
}
RETURN uid, total, items
