"""The version of celery-lint (one place; ``celery_lint.__version__`` re-exports it)."""

__version__ = "0.1.0"
