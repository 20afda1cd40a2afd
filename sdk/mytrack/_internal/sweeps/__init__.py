"""Sweeps on the agent's side: turning a trial's parameters into its command line."""
