"""Taking space back: deleting runs, and sweeping blobs that nothing references."""
