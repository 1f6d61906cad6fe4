"""`python -m schedwarden`: the same command line as the `schedwarden` script."""

from .cli.main import run

run()
