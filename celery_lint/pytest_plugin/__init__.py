"""The pytest plugin (``pytest -p celery_lint``): fixtures for task tests and a lint gate."""
