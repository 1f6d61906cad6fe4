"""Collectors: one module per mechanism, bytes → ScheduledJob | Issue. See `registry.py`."""
