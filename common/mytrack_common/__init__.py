"""What the mytrack SDK and mytrack-service share besides the protocol messages.

``wal`` is the framing of the per-run write-ahead log (written by the service, and
by the SDK itself in offline mode); ``address`` is where a service home keeps its
socket, lock and logs; ``names`` makes run ids and default names; ``tee`` (with
``lines``) is the console tee program (``python -m mytrack_common.tee``), which a
training process starts itself or the service's tee server forks for it; ``secrets``
says which names look like secrets and redacts their values (command lines in the
SDK, config in the UI).

This file imports nothing: every tee imports it at its start, which is part of
``init()``.
"""
