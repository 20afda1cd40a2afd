"""The `Run` object and what hangs off it: config, summary, define_metric, status, alerts, logged-
value validation, ``watch()``."""
