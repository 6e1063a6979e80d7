// name: sensors/point
// mode: read
// params: {"point": "t-101"}
// purpose: A point by its field id or by its uid (each looked up through its own index).
MATCH (p:Point {pointId: $point})
RETURN p.uid AS uid, p.pointId AS pointId, p.unit AS unit
UNION
MATCH (p:Point {uid: $point})
RETURN p.uid AS uid, p.pointId AS pointId, p.unit AS unit
