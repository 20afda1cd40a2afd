"""Console capture: what the training process prints reaches the run as timestamped lines."""
