"""A run's life in the training process: ``init()``, resume, signals, exit hooks, environment metadata, notebooks."""
