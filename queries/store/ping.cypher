// name: store/ping
// mode: read
// params: {}
// purpose: Answers 1 when the graph engine is up and accepts Cypher.
RETURN 1 AS ok
