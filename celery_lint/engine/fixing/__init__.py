"""Autofix: the fix loop over a project, and writing the fixed files."""

from __future__ import annotations

from .files import NotWritten, write_fix
from .loop import FixOutcome, fix_project
from .paths import FixInterrupted, fix_paths

__all__ = ["FixInterrupted", "FixOutcome", "NotWritten", "fix_paths", "fix_project", "write_fix"]
