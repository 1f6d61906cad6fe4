"""Logs: EVTX and syslog readers that turn log records into `JobEvent`s (issue 7)."""
