"""Sweeps in the service: the search methods (search/) the controller asks for each trial."""
