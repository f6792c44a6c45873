"""``# noqa`` handling with flake8's semantics, for the CLI path.

flake8 looks for the comment on the physical lines it joins into one (a multi-line
string, a backslash continuation; not a bracketed multi-line call, whose lines end in
their own newline tokens), accepts ``# noqa`` for every code
and ``# noqa: CEL101,CEL2`` for codes and their prefixes, and honours
``# flake8: noqa`` for the whole file.
"""

from __future__ import annotations

import io
import re
import tokenize

# The same expression flake8 uses (flake8/defaults.py NOQA_INLINE_REGEXP).
NOQA_INLINE = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
NOQA_FILE = re.compile(r"\s*# flake8[:=]\s*noqa", re.I)
_SPLIT = re.compile(r"[,\s]")
_CEL_NOQA = re.compile(r"#\s*noqa\s*:[^\n]*CEL", re.IGNORECASE)


def _physical_lines(text: str) -> list[str]:
    """Lines as tokenize and flake8 count them: split at newlines only (``\n``, ``\r\n`` and
    a lone ``\r``), never at form feeds or Unicode separators (which ``str.splitlines``
    also splits at)."""
    return io.StringIO(text, newline="").readlines()


def _line_mapping(text: str) -> dict[int, str]:
    lines = _physical_lines(text)
    mapping: dict[int, str] = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return {i + 1: line for i, line in enumerate(lines)}
    min_line = len(lines) + 2
    max_line = -1
    for tok in tokens:
        if tok.type in (tokenize.ENDMARKER, tokenize.DEDENT):
            continue
        min_line = min(min_line, tok.start[0])
        max_line = max(max_line, tok.end[0])
        if tok.type in (tokenize.NL, tokenize.NEWLINE):
            joined = "".join(lines[min_line - 1 : max_line])
            for number in range(min_line, max_line + 1):
                mapping[number] = joined
            min_line = len(lines) + 2
            max_line = -1
    return mapping


def may_name_celery_lint_codes(text: str) -> bool:
    """Whether a ``# noqa`` of ``text`` may name a celery-lint code; without one,
    :meth:`NoqaIndex.unused` has nothing to report, whatever the findings."""
    return _CEL_NOQA.search(text) is not None


class NoqaIndex:
    """Answers whether a finding on a line is suppressed."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._mapping: dict[int, str] | None = None
        self.file_disabled = any(NOQA_FILE.match(line) for line in _physical_lines(text))
        self.used: set[tuple[int, str]] = set()
        """(line, noqa code) pairs that suppressed a finding."""

    def _logical(self, line: int) -> str:
        if self._mapping is None:
            self._mapping = _line_mapping(self._text)
        found = self._mapping.get(line)
        if found is None:
            lines = _physical_lines(self._text)
            found = lines[line - 1] if 0 < line <= len(lines) else ""
        return found

    def suppresses(self, line: int, code: str) -> bool:
        if self.file_disabled:
            return True
        if "noqa" not in self._text.lower():
            return False
        match = NOQA_INLINE.search(self._logical(line))
        if match is None:
            return False
        codes_text = match.group("codes")
        if codes_text is None:
            return True
        codes = {c for c in _SPLIT.split(codes_text) if c}
        for candidate in codes:
            if code == candidate or code.startswith(candidate):
                self.used.add((self._first_line(line), candidate.upper()))
                return True
        return False

    def _first_line(self, line: int) -> int:
        """The first physical line of the logical line holding ``line``."""
        logical = self._logical(line)
        if self._mapping is None:
            return line
        return min((n for n, text in self._mapping.items() if text is logical), default=line)

    def unused(self, known: list[str], selected: list[str]) -> list[tuple[int, int, str, str]]:
        """``# noqa: CEL...`` codes that suppressed nothing, or name no rule at all.

        Returns (line, column, code, problem). Codes of rules not selected in this run are
        left alone: they may suppress something when those rules run.
        """
        if self.file_disabled or not may_name_celery_lint_codes(self._text):
            return []
        problems: list[tuple[int, int, str, str]] = []
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(self._text).readline))
        except (tokenize.TokenError, SyntaxError, IndentationError):
            return []
        for tok in tokens:
            if tok.type != tokenize.COMMENT:
                continue
            match = NOQA_INLINE.search(tok.string)
            if match is None or match.group("codes") is None:
                continue
            line = tok.start[0]
            first = self._first_line(line)
            column = tok.start[1] + match.start() + 1
            for code in (c.upper() for c in _SPLIT.split(match.group("codes")) if c):
                if not code.startswith("CEL"):
                    continue
                if not any(k.startswith(code) for k in known):
                    problems.append((line, column, code, "names no celery-lint rule"))
                elif any(s.startswith(code) for s in selected) and (first, code) not in self.used:
                    problems.append((line, column, code, "suppresses nothing"))
        return problems
