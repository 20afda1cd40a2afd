"""The protocol between the mytrack SDK and mytrack-service: generated code only.

``mytrack_pb2`` / ``mytrack_pb2_grpc`` are generated from ``mytrack.proto`` by
``scripts/gen-proto``; nothing else lives here. What both sides share beyond the
messages (the WAL's framing, the service's addresses, run names, console lines
and the tee program) is in ``mytrack_common``.
"""
