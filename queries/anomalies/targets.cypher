// name: anomalies/targets
// mode: read
// params: {"uids": ["demo:2O2Fr$t4X7Zf8NOew3FLOH"], "keys": ["spindleRpm"]}
// template: {"label": "Element"}
// purpose: What conditions need of elements or spaces: model, IFC class, GlobalId and the current values of the properties they read.
UNWIND $uids AS uid
MATCH (t:{{label}} {uid: uid})
RETURN t.uid AS uid, t.model AS model, t.ifcClass AS ifcClass, t.globalId AS globalId,
       t.building AS building, t.storey AS storey, CASE WHEN 'Space' IN labels(t) THEN t.uid ELSE t.space END AS space,
       [k IN $keys | t[k]] AS values
