"""Configuration: settings Celery ignores, mixes, or warns about."""
