"""Time limits and acknowledgement."""
