"""schedwarden: find, audit and watch persistence through scheduled tasks and jobs (ATT&CK T1053)."""

__version__ = "0.1.0"
TOOL = {"name": "schedwarden", "version": __version__}  # in every report
