"""Retries: backoff, bounds, and retries that never happen."""
