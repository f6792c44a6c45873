"""Autofix: the fix loop over a project, and writing the fixed files."""

from __future__ import annotations

from .files import write_atomically
from .loop import FixOutcome, fix_project
from .paths import fix_paths

__all__ = ["FixOutcome", "fix_paths", "fix_project", "write_atomically"]
