"""The way to the service: finding or starting it, the gRPC client, record encoding, the sender thread, ``sync``."""
