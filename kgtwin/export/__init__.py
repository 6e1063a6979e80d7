"""The graph for other tools: RDF aligned to Brick and BOT (rdf.py, validated by validate.py) and DTDL (dtdl.py)."""
