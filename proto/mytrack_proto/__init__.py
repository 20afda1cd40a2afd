"""Wire and disk formats shared by the mytrack SDK and mytrack-service.

``mytrack_pb2`` / ``mytrack_pb2_grpc`` are generated (``scripts/gen-proto``);
``wal`` is the framing of the per-run write-ahead log; ``tee`` (with ``lines``)
is the console tee program, which a training process starts itself or the
service's tee server forks for it.
"""
