// name: sensors/source_names
// mode: read
// params: {}
// purpose: Points that a field protocol names: their Sparkplug B metric path and OPC UA node id.
MATCH (p:Point)
WHERE p.sparkplugName IS NOT NULL OR p.opcuaNodeId IS NOT NULL
RETURN p.uid AS uid, p.pointId AS pointId, p.sparkplugName AS sparkplug, p.opcuaNodeId AS opcua
