"""The version of celery-lint (one place; ``celery_lint.__version__`` re-exports it)."""

__version__ = "0.1.0"

PROJECT_NAME = "celery_lint"
"""The name of the hooks and of the entry-point group rule packs register under."""
