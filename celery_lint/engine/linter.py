"""Linting one file: the selected rules in one visit, positions, ``# noqa``, CEL900/CEL901.

An :class:`Engine` holds a fixed selection of rules; every front end reaches it through
:func:`celery_lint.engine.lint_paths` or, per file, :meth:`Engine.lint_file`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..context import FileContext, RawFinding
from ..noqa import NoqaIndex, may_name_celery_lint_codes
from ..project.files import ANALYSIS_SKIPPED, SourceFile, display_path, resolve_positions
from ..project.hooks import hooks_in
from ..rules import all_rules
from ..rules.base import Rule
from ..types import Fix, Kind, Violation
from .dispatch import BatchedVisitor

if TYPE_CHECKING:
    import libcst as cst

    from ..project.model import ProjectModel
else:
    from .._lazy_libcst import cst

UNPARSABLE = "CEL900"
UNUSED_NOQA = "CEL901"
UNPARSABLE_PREFIX = "file cannot be analysed: "
"""How a CEL900 message starts; the reason the model gives follows."""


def _positions(tree: cst.Module, findings: list[RawFinding]) -> None:
    if not any(f.node is not None for f in findings):
        return
    # Only a file with findings gets here: the metadata machinery loads on first use.
    positions = resolve_positions(tree)
    for finding in findings:
        node = finding.node
        if node is None:
            continue
        target = node.name if isinstance(node, (cst.FunctionDef, cst.ClassDef)) else node
        code_range = positions.get(target)
        if code_range is None:
            continue
        finding.line = code_range.start.line
        finding.column = code_range.start.column
        end = code_range.end
        finding.end = end.line, end.column
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            # The def/class keyword, not the decorator: ``async def`` counts from ``async``.
            keyword = "class " if isinstance(node, cst.ClassDef) else "def "
            if isinstance(node, cst.FunctionDef) and node.asynchronous is not None:
                keyword = "async def "
            finding.column = max(0, finding.column - len(keyword))


_CODING_COOKIE = re.compile(rb"(?:^|(?<=\r))[ \t\f]*#.*?coding[:=]", re.MULTILINE)


_NOQA = re.compile(rb"(?i)noqa")


def _decodes(file: SourceFile, data: bytes) -> bool:
    """Whether the file decodes, without keeping a decoded copy of every plain ASCII file."""
    first_line_end = data.find(b"\n")
    second_line_end = data.find(b"\n", first_line_end + 1) if first_line_end >= 0 else -1
    head = data[: second_line_end + 1] if second_line_end >= 0 else data
    if data.isascii() and _CODING_COOKIE.search(head) is None:
        return True
    return file.text is not None


class Engine:
    """Runs a fixed selection of rules over files of one project model."""

    def __init__(
        self,
        rules: Sequence[type[Rule]],
        options: dict[str, Any] | None = None,
        *,
        known_rules: Sequence[type[Rule]] | None = None,
        extension_settings: tuple[str, ...] = (),
    ) -> None:
        """``known_rules``: every rule of the run, selected or not (the built-in rules when
        None): CEL901 tells a ``# noqa`` code of an unselected rule from one of no rule."""
        self.rules = [r for r in rules if r.CODE not in (UNPARSABLE, UNUSED_NOQA)]
        self.report_unparsable = any(r.CODE == UNPARSABLE for r in rules)
        self.report_unused_noqa = any(r.CODE == UNUSED_NOQA for r in rules)
        self._unused_noqa_triggers = tuple(t for r in rules if r.CODE == UNUSED_NOQA for t in r.TRIGGERS)
        self.options = dict(options or {})
        self.known_rules = tuple(known_rules if known_rules is not None else all_rules())
        self.extension_settings = extension_settings
        self._by_code = {r.CODE: r for r in self.known_rules}
        self._by_code.update({r.CODE: r for r in self.rules})
        # Per rule: its triggers and the calls one of which must be present as well. CEL901's
        # trigger is narrower than its bytes: see _may_report_unused_noqa.
        self._trigger_pairs = [(rule.TRIGGERS, rule.TRIGGERS_WITH) for rule in self.rules if rule.TRIGGERS]
        # A test file is let through only by the triggers of rules that check test code.
        self._test_trigger_pairs = [
            (rule.TRIGGERS, rule.TRIGGERS_WITH)
            for rule in self.rules
            if rule.TRIGGERS and not rule.SKIP_TEST_CODE
        ]
        self._unused_noqa_in_tests = any(r.CODE == UNUSED_NOQA and not r.SKIP_TEST_CODE for r in rules)

    @property
    def codes(self) -> list[str]:
        """Every selected code, CEL900 and CEL901 included."""
        extra = [UNPARSABLE] if self.report_unparsable else []
        extra += [UNUSED_NOQA] if self.report_unused_noqa else []
        return sorted([r.CODE for r in self.rules] + extra)

    def _wants(self, model: ProjectModel, file: SourceFile) -> bool:
        if model.needs_analysis(file) or model.is_config_module(file):
            return True
        data = file.read()
        if data is None:
            return False
        if any(
            any(t in data for t in triggers) and (not also or any(t in data for t in also))
            for triggers, also in (self._test_trigger_pairs if file.is_test else self._trigger_pairs)
        ):
            return True
        if file.is_test and not self._unused_noqa_in_tests:
            return False
        return any(t in data for t in self._unused_noqa_triggers) and self._may_report_unused_noqa(file)

    def _may_report_unused_noqa(self, file: SourceFile) -> bool:
        """Whether CEL901 may report in this file: it is selected and a ``# noqa`` comment of
        the file may name a celery-lint code. Most ``# noqa`` comments are other tools'
        (``F401``, ``E501``): they give CEL901 nothing whatever the findings, and the other
        rules need such a file no more than the default selection does, so it is not parsed."""
        if not self.report_unused_noqa:
            return False
        text = file.text
        return text is None or may_name_celery_lint_codes(text)

    def lint_file(
        self,
        model: ProjectModel,
        file: SourceFile,
        *,
        parse_errors: bool = True,
        named: bool = False,
        apply_noqa: bool = True,
        suppressed: list[Violation] | None = None,
    ) -> list[Violation]:
        """Findings for one file. ``named``: the user named this file, so a syntax error is
        reported even where the prefilter would skip the file. ``apply_noqa=False`` leaves
        suppression to the caller (flake8 applies ``# noqa`` itself). ``suppressed``: where
        the findings a ``# noqa`` silenced go (the result cache keeps them for flake8)."""
        return [
            v
            for v, _ in self.lint_file_with_fixes(
                model,
                file,
                parse_errors=parse_errors,
                named=named,
                apply_noqa=apply_noqa,
                suppressed=suppressed,
            )
        ]

    def lint_file_with_fixes(
        self,
        model: ProjectModel,
        file: SourceFile,
        *,
        parse_errors: bool = True,
        named: bool = False,
        apply_noqa: bool = True,
        suppressed: list[Violation] | None = None,
    ) -> list[tuple[Violation, Fix | None]]:
        """Findings for one file, each with the fix its rule offers (or None);
        ``suppressed``: see :meth:`lint_file`."""
        data = file.read()
        shown = display_path(file.path)
        if data is None or not _decodes(file, data):
            return [(v, None) for v in self._unparsable(file, shown)] if parse_errors else []
        if file.is_test and all(rule.SKIP_TEST_CODE for rule in self.rules):
            return []
        if not self._wants(model, file):
            if named and parse_errors and self.report_unparsable and file.tree is None:
                return [(v, None) for v in self._unparsable(file, shown)]
            return []
        if file.text is None:
            return [(v, None) for v in self._unparsable(file, shown)] if parse_errors else []
        rule_classes = [rule for rule in self.rules if not (rule.SKIP_TEST_CODE and file.is_test)]
        if model.use_prefilter:
            rule_classes = [r for r in rule_classes if not r.REQUIRES or any(b in data for b in r.REQUIRES)]
        if not rule_classes and not (_NOQA.search(data) and self._may_report_unused_noqa(file)):
            # No rule can fire here; whether the file parses is all that is left to check, and
            # CPython's own parser answers that far faster than building the LibCST tree.
            if parse_errors and self.report_unparsable and not file.cpython_accepts() and file.tree is None:
                return [(v, None) for v in self._unparsable(file, shown)]
            return []
        summary = model.summary_for(file)
        if summary is None:
            return [(v, None) for v in self._unparsable(file, shown)] if parse_errors else []
        context = FileContext(file, summary, model, self.options, self.extension_settings)
        rules = [rule(context) for rule in rule_classes]
        for rule in rules:
            rule.check()
        task_bodies = {id(t.body): t for t in model.tasks_in(file) if t.body is not None}
        batched = BatchedVisitor(rules, context, task_bodies, hooks_in(model, file))
        if batched.needed:
            batched.walk(summary.tree)
        findings = context.findings
        if not findings and not self.report_unused_noqa:
            return []
        _positions(summary.tree, findings)
        noqa = NoqaIndex(file.text or "")
        by_code = self._by_code
        result: dict[Violation, Fix | None] = {}
        silenced: set[Violation] = set()
        for finding in findings:
            code = finding.code
            noqa_applies = apply_noqa and noqa.suppresses(finding.line, code)
            if noqa_applies and suppressed is None:
                continue
            end_line, end_column = finding.end or (finding.line, finding.column)
            violation = Violation(
                path=shown,
                line=finding.line,
                column=finding.column + 1,
                code=code,
                message=finding.message,
                fix_title=finding.fix_title,
                name=by_code[code].NAME,
                end_line=end_line,
                end_column=end_column + 1,
                fix_safety=by_code[code].FIX_SAFETY if finding.fixable else None,
            )
            if noqa_applies:
                silenced.add(violation)
                continue
            if result.get(violation) is None:
                result[violation] = finding.fix
        if self.report_unused_noqa:
            selected = [r.CODE for r in self.rules] + ([UNPARSABLE] if self.report_unparsable else [])
            known = list(by_code)
            for line, column, code, problem in noqa.unused(known, selected):
                result.setdefault(
                    Violation(
                        path=shown,
                        line=line,
                        column=column,
                        code=UNUSED_NOQA,
                        message=by_code[UNUSED_NOQA].MESSAGE.format(code=code, problem=problem),
                        fix_title=by_code[UNUSED_NOQA].FIX_TITLE or "",
                        name=by_code[UNUSED_NOQA].NAME,
                        end_line=line,
                        end_column=column,
                    ),
                    None,
                )
        if suppressed is not None:
            suppressed.extend(sorted(silenced))
        return sorted(result.items(), key=lambda item: item[0])

    def _unparsable(self, file: SourceFile, shown: str) -> list[Violation]:
        error = file.error or "cannot parse file"
        # A file CPython accepts but celery-lint did not analyse is an error of the run,
        # not a finding in the code; the reason the model gives says which it is. An error
        # is reported whatever the selection: no selected rule checked the file.
        kind = Kind.ANALYSIS_SKIPPED if error.startswith(ANALYSIS_SKIPPED) else Kind.FINDING
        if not self.report_unparsable and kind is Kind.FINDING:
            return []
        line, column = 1, 1
        match = re.search(r"at line (\d+)(?:, column (\d+))?", error)
        if match:
            line = int(match.group(1))
            column = int(match.group(2) or 1)
        return [
            Violation(
                path=shown,
                line=line,
                column=column,
                code=UNPARSABLE,
                message=f"{UNPARSABLE_PREFIX}{error}",
                name="unparsable-file",
                end_line=line,
                end_column=column,
                kind=kind,
            )
        ]
