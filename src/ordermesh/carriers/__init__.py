"""Carriers: the interface a carrier or aggregator plugs into, and the built-in rate-card carrier."""
