"""Outbound: what leaves the service after a record is applied: file uploads to the blob store,
live-file watching, alert webhooks."""
