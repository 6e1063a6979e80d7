"""Live observations into the graph: validation, micro-batching by point, bounded time buckets."""
