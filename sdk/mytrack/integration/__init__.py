"""Callbacks for training libraries that do not log to W&B on their own (Keras)."""
