from kgtwin.cli import run

run()
