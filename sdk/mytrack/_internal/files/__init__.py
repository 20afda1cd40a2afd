"""Saved files on the SDK side: ``run.save()``, ``restore()`` and verified downloads of a run's files."""
