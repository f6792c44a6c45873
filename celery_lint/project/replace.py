"""A transformer that swaps nodes for their replacements (fixes are applied with it)."""

from __future__ import annotations

from typing import Any

import libcst as cst


class EditApplier(cst.CSTTransformer):
    """Replaces each node whose id is a key of ``edits`` (or removes it)."""

    def __init__(self, edits: dict[int, cst.CSTNode | cst.RemovalSentinel]) -> None:
        super().__init__()
        self.edits = edits

    def on_leave(self, original_node: Any, updated_node: Any) -> Any:
        replacement = self.edits.get(id(original_node))
        if replacement is not None:
            return replacement
        return updated_node
