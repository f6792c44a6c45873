"""Findings about the analysis itself."""
