"""LibCST, imported on first use.

Importing LibCST costs about a quarter of a second. A warm run answers from the result
cache and never parses a file, so the rule modules and the project model reach LibCST
through this stand-in, which imports it the first time one of its names is used.
"""

from __future__ import annotations

import importlib
import types
from typing import Any


class _LazyModule(types.ModuleType):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._real: types.ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        real = self._real
        if real is None:
            real = self._real = importlib.import_module(self.__name__)
        value = getattr(real, attr)
        # Later look-ups of this name skip __getattr__.
        setattr(self, attr, value)
        return value


cst: Any = _LazyModule("libcst")
