// name: sensors/upsert_points
// mode: write
// params: {"rows": [{"uid": "ahu1-sat", "props": {"pointId": "ahu1-sat", "brickClass": "Temperature_Sensor", "unit": "degC"}}]}
// template: {"labels": ["Temperature_Sensor"]}
// purpose: Declares points from a sensor registry (new ones, or updates of their settings).
UNWIND $rows AS row
MERGE (p:Point {uid: row.uid})
SET p += row.props, p{{labels}}
