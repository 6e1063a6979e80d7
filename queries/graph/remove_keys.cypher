// name: graph/remove_keys
// mode: write
// params: {"rows": [{"uid": "demo:2O2Fr$t4X7Zf8NOew3FLOH", "props": {"pset.Pset_WallCommon.FireRating": null}}]}
// template: {"label": "Element"}
// purpose: Removes properties of nodes, one key per row.
// FalkorDB 4.16 removes the wrong property when one SET removes several keys of a node (`SET n += {a: null, b: null}`
// deletes a and an unrelated key, keeps b); one key per row, in one statement, removes exactly those keys.
UNWIND $rows AS row
MATCH (n:{{label}} {uid: row.uid})
SET n += row.props
