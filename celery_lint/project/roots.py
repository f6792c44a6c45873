"""Which project a file belongs to: the nearest folder holding a project marker.

A folder walked from one project root may hold other projects (a monorepo's services,
each with its own ``pyproject.toml``). Each is modelled on its own, as the flake8
plugin does when it looks up a file's root, so one service's global configuration never
silences a finding in another and every front end reports the same findings.
"""

from __future__ import annotations

import os
from pathlib import Path

from .files import ROOT_MARKERS


class ProjectRoots:
    """Nearest project root of files under ``top``, with one marker check per folder."""

    def __init__(self, top: Path) -> None:
        self.top = top
        self._top_text = str(top)
        self._top_prefix = os.path.join(self._top_text, "")
        self._owner: dict[str, Path] = {self._top_text: top}

    def owner(self, path: Path) -> Path:
        """The project root ``path`` (a file under ``top``) belongs to."""
        return self._owner_of_dir(os.path.dirname(str(path)))

    def _owner_of_dir(self, folder: str) -> Path:
        known = self._owner.get(folder)
        if known is not None:
            return known
        if not folder.startswith(self._top_prefix):
            owner = self.top
        elif any(os.path.exists(os.path.join(folder, marker)) for marker in ROOT_MARKERS):
            owner = Path(folder)
        else:
            owner = self._owner_of_dir(os.path.dirname(folder))
        self._owner[folder] = owner
        return owner
