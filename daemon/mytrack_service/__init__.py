"""mytrack-service: the long-lived local service behind the mytrack SDK.

It owns every write and read of the store: it receives records over gRPC,
makes them durable in per-run write-ahead logs, assembles history rows and
summaries, and applies them to the metadata store in batches.
"""

__version__ = "0.1.0"
