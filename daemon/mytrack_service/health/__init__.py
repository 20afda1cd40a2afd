"""Health: crash detection of writers (liveness) and the system metrics sampled for live runs (CPU,
memory, disk, network, GPUs)."""
