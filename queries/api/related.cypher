// name: api/related
// mode: read
// params: {"uids": ["demo:storey-1"], "skip": 0, "limit": 50, "scopeModel": null, "scopeBuilding": null}
// template: {"start": "Storey", "type": "HAS_SPACE", "end": "Space"}
// purpose: A page of the nodes each of several nodes links to by one relationship type, with totals and the links' properties.
UNWIND $uids AS uid
// one pass for all nodes (a CALL subquery per node costs FalkorDB about half a millisecond each);
// two MATCHes, since in one pattern FalkorDB may start from the far end's label instead of the uid
MATCH (s:{{start}} {uid: uid})
OPTIONAL MATCH (s)-[r:{{type}}]->(c:{{end}})
WHERE ($scopeModel IS NULL OR c.model = $scopeModel)
  AND ($scopeBuilding IS NULL OR c.building = $scopeBuilding OR c.uid = $scopeBuilding)
WITH uid, c, r ORDER BY coalesce(c.elevation, 0.0), c.name, c.uid
WITH uid, collect(CASE WHEN c IS NULL THEN null ELSE [c, r] END) AS found
RETURN uid, size(found) AS total,
       [pair IN found[$skip..$skip + $limit] | {labels: labels(pair[0]), props: properties(pair[0]), link: properties(pair[1])}] AS items
