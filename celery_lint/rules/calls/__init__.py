"""Calls and options: task calls whose arguments or options Celery cannot use."""
