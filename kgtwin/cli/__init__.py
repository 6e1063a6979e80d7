"""The `kgtwin` command: thin modules that parse arguments, call the library and print.

Each command group lives in its own module and registers itself on the one `app` when imported.
"""

from kgtwin.cli import db, demo, ingest, load, queries, rdf  # noqa: F401  (registers the commands)
from kgtwin.cli.common import app, run

__all__ = ["app", "run"]
