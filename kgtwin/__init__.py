"""kgtwin: a twin knowledge graph for construction and building operations."""

__version__ = "0.1.0"
