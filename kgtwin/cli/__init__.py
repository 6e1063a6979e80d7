"""The `kgtwin` command: thin modules that parse arguments, call the library and print.

Each command group lives in its own module and registers itself on the one `app` when imported.
"""

from kgtwin.cli import (  # noqa: F401  (each module registers its commands on the app)
    anomalies,
    db,
    demo,
    ingest,
    load,
    queries,
    rdf,
    schedule,
    serve,
    simulate,
)
from kgtwin.cli.common import app, run

__all__ = ["app", "run"]
