"""Keeping a fixed file byte-for-byte what it was outside the edited spans.

LibCST prints a module from its tree, and for a few spellings that text is not the source
it parsed: a form feed in a line's indentation is dropped, and so is the last line ending
of a file whose lines end with a lone carriage return. Writing a fixed tree's text would
lose those everywhere in the file. So a fix is taken as the difference between LibCST's
text of the untouched tree and its text of the fixed tree, and only that difference is
applied to the source: every character outside the edited spans stays as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from difflib import SequenceMatcher

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
# Within a changed block of lines, the edits are found character by character up to this
# size (SequenceMatcher is quadratic at worst); a larger block is replaced as a whole.
_CHAR_DIFF_LIMIT = 20_000
_FIRST_STEP = 4096

Opcode = tuple[str, int, int, int, int]


def carry_edits(source: str, printed: str, fixed: str) -> str | None:
    """``source`` with the edits that turn ``printed`` (LibCST's text of the untouched tree of
    ``source``) into ``fixed``; None when ``printed`` differs from ``source`` by more than
    dropped whitespace, so that the edits cannot be placed in ``source`` with certainty."""
    if printed == source:
        return fixed
    gaps = _dropped(source, printed)
    if gaps is None:
        return None
    parts: list[str] = []
    done = 0  # the next gap of ``gaps`` not yet written or dropped
    position = 0  # where ``printed[k]`` sits in ``source``: k + the gaps before it
    shift = 0
    for tag, p1, p2, f1, f2 in _edits(printed, fixed):
        if tag == "insert":
            # Text inserted at a boundary goes before the characters dropped there (a line
            # added at the end of a file ending with a lone "\r" keeps that "\r" last).
            parts.append(fixed[f1:f2])
            continue
        # The characters dropped just before ``printed[p1]`` stay, before whatever comes.
        while done < len(gaps) and gaps[done][0] <= p1:
            at, text = gaps[done]
            if at == p1:
                parts.append(text)
            shift += len(text)
            done += 1
        position = p1 + shift
        if tag == "equal":
            # The source's own text of the span, with the characters dropped inside it.
            while done < len(gaps) and gaps[done][0] < p2:
                shift += len(gaps[done][1])
                done += 1
            end = p2 + shift
            parts.append(source[position:end])
        else:
            # Replaced or deleted: the characters dropped inside the span go with it.
            while done < len(gaps) and gaps[done][0] < p2:
                shift += len(gaps[done][1])
                done += 1
            parts.append(fixed[f1:f2])
    while done < len(gaps):
        parts.append(gaps[done][1])
        done += 1
    return "".join(parts)


def _dropped(source: str, printed: str) -> list[tuple[int, str]] | None:
    """The runs of characters of ``source`` that ``printed`` lacks, as (index in ``printed``
    they come before, text); None unless ``printed`` is ``source`` minus some whitespace."""
    gaps: list[tuple[int, str]] = []
    i = j = 0
    while j < len(printed):
        same = _common_prefix(source, i, printed, j)
        i += same
        j += same
        if j == len(printed):
            break
        start = i
        i = source.find(printed[j], i)
        if i < 0 or not source[start:i].isspace():
            return None
        gaps.append((j, source[start:i]))
    if i < len(source):
        if not source[i:].isspace():
            return None
        gaps.append((len(printed), source[i:]))
    return gaps


def _common_prefix(a: str, i: int, b: str, j: int) -> int:
    """The length of the common prefix of ``a[i:]`` and ``b[j:]``, by slices (galloping,
    then halving), so a long equal stretch costs a few C-level comparisons."""
    limit = min(len(a) - i, len(b) - j)
    length = 0
    step = _FIRST_STEP
    while length < limit:
        size = min(step, limit - length)
        if a[i + length : i + length + size] == b[j + length : j + length + size]:
            length += size
            step *= 2
        elif size == 1:
            break
        else:
            step = size // 2
    return length


def _edits(printed: str, fixed: str) -> Iterator[Opcode]:
    """SequenceMatcher opcodes (in character offsets) from ``printed`` to ``fixed``: lines
    first, then characters within each changed block of lines."""
    a = _LINE.findall(printed)
    b = _LINE.findall(fixed)
    a_at = _offsets(a)
    b_at = _offsets(b)
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        p1, p2, f1, f2 = a_at[i1], a_at[i2], b_at[j1], b_at[j2]
        if tag != "replace" or (p2 - p1) + (f2 - f1) > _CHAR_DIFF_LIMIT:
            yield tag, p1, p2, f1, f2
            continue
        matcher = SequenceMatcher(None, printed[p1:p2], fixed[f1:f2], autojunk=False)
        for inner, x1, x2, y1, y2 in matcher.get_opcodes():
            yield inner, p1 + x1, p1 + x2, f1 + y1, f1 + y2


def _offsets(lines: list[str]) -> list[int]:
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    return offsets
