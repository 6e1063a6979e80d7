"""The graph model: labels, keys and the ontology alignment that loaders and exporters share."""
