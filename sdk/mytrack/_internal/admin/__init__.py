"""Changing what is stored from the terminal: `mytrack runs rm` and `mytrack gc`."""
