"""Artifacts on the SDK side: the run's artifact methods, references, verified downloads and the
``mytrack artifacts`` command."""
