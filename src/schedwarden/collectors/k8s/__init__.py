"""Kubernetes collectors: CronJobs read from manifests and `kubectl get -o json|yaml` dumps."""
