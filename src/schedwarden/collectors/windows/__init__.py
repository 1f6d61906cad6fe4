"""Windows Task Scheduler (T1053.005): task XML, the TaskCache registry, legacy .job files and Group
Policy preference tasks, reconciled into one job per task."""
