"""Ingest: live runs and their writers, and the write-ahead log every acknowledged record is appended to first."""
