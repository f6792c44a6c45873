"""The fix loop: apply every non-overlapping fix of a file, re-lint, repeat.

LibCST keeps every comment and blank line, so only the edited nodes change. After each
round the whole project is re-linted with the new texts (a fix in one file can change a
finding in another), until nothing is left to fix (bounded). Nothing is written here.

A file is fixed only when its bytes can be given back exactly outside the edits: its
encoding must turn its text back into its bytes (``# coding: unicode_escape`` does not),
and the edits are carried over to the source text rather than taking LibCST's print of
the fixed tree, which drops a few characters (:mod:`.preserve`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...config import Settings
from ...fix_layout import line_length_of
from ...fixes import apply_fixes
from ...project.files import SourceFile, parse_with_large_stack
from ...project.model import ProjectModel
from ...rules.base import Rule
from ...types import Fix, Violation
from ..linter import Engine
from ..selection import ignored_codes
from .preserve import carry_edits

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

MAX_ROUNDS = 8
_NOT_REPRODUCED = "its text cannot be reproduced around the edits"


@dataclass
class FixOutcome:
    original: dict[Path, str] = field(default_factory=dict)
    fixed: dict[Path, str] = field(default_factory=dict)
    applied: int = 0
    remaining: dict[Path, list[Violation]] = field(default_factory=dict)
    """The findings of each target after fixing."""
    files_checked: int = 0
    encoded: dict[Path, bytes] = field(default_factory=dict)
    """The fixed text of each changed file in its own encoding."""
    read: dict[Path, bytes] = field(default_factory=dict)
    """The bytes each changed file had when it was read: it is written only if it still has them."""
    before: dict[Path, list[Violation]] = field(default_factory=dict)
    """The findings of each changed file before fixing (what it keeps when its fix is not written)."""
    not_fixed: dict[Path, str] = field(default_factory=dict)
    """Files with fixes that are left alone, and why."""

    @property
    def changed(self) -> list[Path]:
        return sorted(p for p, text in self.fixed.items() if text != self.original.get(p))


def fix_project(
    root: Path,
    targets: Sequence[tuple[Path, bool]],
    engine: Engine,
    settings: Settings,
    *,
    unsafe: bool,
    use_prefilter: bool = True,
    refuse: Callable[[Path], str | None] | None = None,
) -> FixOutcome:
    """Fix ``targets`` (paths of one project) to a fixed point; nothing is written here.
    ``refuse``: why a file must not be fixed (it cannot be written), or None."""
    outcome = FixOutcome()
    overlay: dict[Path, str] = {}
    allowed = _fixable_codes(engine.known_rules, unsafe)
    line_length = line_length_of(root)
    model: ProjectModel | None = None
    final: ProjectModel | None = None
    found: dict[Path, list[Violation]] = {}
    for _ in range(MAX_ROUNDS):
        model = _model_with(root, settings, overlay, use_prefilter, model)
        changed_any = False
        found = {}
        for path, named in targets:
            file = model.add_file(path)
            pairs = engine.lint_file_with_fixes(model, file, named=named)
            found[path] = [violation for violation, _ in pairs]
            ignored = ignored_codes(settings, file.relpath)
            fixes = [
                fix
                for violation, fix in pairs
                if fix is not None and violation.code in allowed and not violation.code.startswith(ignored)
            ]
            if not fixes or file.text is None or file.tree is None or path in outcome.not_fixed:
                continue
            if path not in overlay:
                reason = _not_reproducible(file) or (refuse(path) if refuse is not None else None)
                if reason is not None:
                    outcome.not_fixed[path] = reason
                    continue
            new_text, applied = _apply_valid(file.tree, file.text, fixes, line_length)
            if new_text is None:
                outcome.not_fixed[path] = _NOT_REPRODUCED
                overlay.pop(path, None)
                changed_any = True  # the file is back to its source: lint the others again
                continue
            if applied == 0 or new_text == file.text:
                continue
            if path not in overlay:
                outcome.original[path] = file.text
                outcome.read[path] = file.data or b""
                outcome.before[path] = found[path]
            overlay[path] = new_text
            outcome.applied += applied
            changed_any = True
        if not changed_any:
            final = model  # the fixed point: its findings are what remains
            break
    if final is None:
        final = _model_with(root, settings, overlay, use_prefilter, model)
        found = {path: engine.lint_file(final, final.add_file(path), named=named) for path, named in targets}
    for path, _ in targets:
        outcome.files_checked += 1
        outcome.remaining[path] = found.get(path, [])
    for path, text in overlay.items():
        file = final.add_file(path)
        try:
            data = file.encoded(text)
        except UnicodeEncodeError:
            outcome.not_fixed[path] = f"the fix cannot be written in its encoding ({file.encoding})"
            outcome.remaining[path] = outcome.before[path]
            continue
        outcome.fixed[path] = text
        outcome.encoded[path] = data
    return outcome


def _not_reproducible(file: SourceFile) -> str | None:
    """Why the file's text, written back in its encoding, would not give its bytes; or None."""
    data = file.data
    text = file.text
    if data is None or text is None:
        return "it cannot be read"
    try:
        same = file.encoded(text) == data
    except UnicodeEncodeError:
        same = False
    return None if same else f"its encoding ({file.encoding}) does not give back its bytes"


def _apply_valid(
    tree: cst.Module, text: str, fixes: Sequence[Fix], line_length: int | None = None
) -> tuple[str | None, int]:
    """The text with every fix applied, when the result is valid Python; else with as many
    fixes as keep it valid, one at a time (a fix that breaks the file is never kept).
    Outside the edits the text is ``text`` exactly; None when that cannot be ensured.
    ``line_length``: the project's, for the layout of the options a fix adds."""
    compiles = _compiles(text)
    new_tree, applied = apply_fixes(tree, fixes, line_length)
    if applied == 0:
        return text, 0
    if not _valid(new_tree.code, compiles):
        kept: list[Fix] = []
        for fix in fixes:
            trial_tree, trial_applied = apply_fixes(tree, [*kept, fix])
            if trial_applied > len(kept) and _valid(trial_tree.code, compiles):
                kept.append(fix)
        if not kept:
            return text, 0
        new_tree, applied = apply_fixes(tree, kept, line_length)
    printed = tree.code
    if printed == text:
        return new_tree.code, applied
    carried = carry_edits(text, printed, new_tree.code)
    if carried is None or not _valid(carried, compiles):
        return None, 0
    return carried, applied


def _compiles(text: str) -> bool:
    """Whether CPython compiles ``text``: LibCST (and even ``ast.parse``) accepts code the
    compiler rejects, such as a keyword argument given twice."""
    try:
        compile(text, "<fixed>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _valid(text: str, original_compiles: bool) -> bool:
    try:
        parse_with_large_stack(text)
    except (cst.ParserSyntaxError, RecursionError, MemoryError):
        return False
    return _compiles(text) or not original_compiles


def _fixable_codes(rules: Sequence[type[Rule]], unsafe: bool) -> frozenset[str]:
    """Codes whose fixes are applied: the safe ones, and the unsafe ones when asked."""
    wanted = ("safe", "unsafe") if unsafe else ("safe",)
    return frozenset(r.CODE for r in rules if r.FIX_SAFETY in wanted)


def _model_with(
    root: Path,
    settings: Settings,
    overlay: dict[Path, str],
    use_prefilter: bool,
    previous: ProjectModel | None = None,
) -> ProjectModel:
    """A fresh project model of ``root`` with the fixed texts of ``overlay``. Files whose
    text has not changed since the ``previous`` model keep their parsed tree (a round
    re-parses only what the last round changed)."""
    model = ProjectModel(root, settings.exclude, use_prefilter, deployment=settings.deployment)
    if previous is not None:
        _reuse_files(model, previous, overlay)
    for path, text in overlay.items():
        file: SourceFile = model.add_file(path)
        if file.text == text:
            continue
        file.set_text(text)  # ``file.text`` above learnt the file's encoding
    model.build()
    return model


def _reuse_files(model: ProjectModel, previous: ProjectModel, overlay: dict[Path, str]) -> None:
    """Put the ``previous`` model's SourceFile objects (read, decoded, parsed) in ``model``
    wherever their content is still current: unchanged on disk and in the overlay."""
    swapped: dict[int, SourceFile] = {}
    for path, file in model.files.items():
        old = previous.files.get(path)
        if old is None or old.data is None or old.relpath != file.relpath:
            continue
        if path in overlay and old.text != overlay[path]:
            continue
        swapped[id(file)] = old
    if not swapped:
        return
    model.files = {path: swapped.get(id(file), file) for path, file in model.files.items()}
    model.by_module = {name: swapped.get(id(file), file) for name, file in model.by_module.items()}
