"""Monitoring's conditions (`conditions`: what the CloudWatch alarms compute, as plain formulas) and their
check against a running `golive serve` (`local`: read from its Prometheus /metrics)."""
