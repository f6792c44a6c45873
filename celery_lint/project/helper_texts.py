"""Cheap text checks before the model parses a module to follow a call into it.

Following a call of task code into a project function means parsing the function's module,
and most modules task code calls into (models, clients, renderers) are otherwise never
parsed. These checks read a module's bytes instead: whether it may define what a call
names, and whether it, or a module it imports, holds what a rule looks for at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .files import SourceFile
    from .model import ProjectModel


@dataclass(frozen=True)
class Reach:
    """What a rule looks for, as text, and how many imports away from a function's module
    it may be (0: in the module itself; 1: there or in a module it imports)."""

    text: re.Pattern[bytes]
    depth: int = 1


_FROM_IMPORT = re.compile(
    rb"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.MULTILINE
)
_IMPORT = re.compile(rb"^[ \t]*import[ \t]+([^\n]*)", re.MULTILINE)


def may_define(
    model: ProjectModel,
    qualname: str,
    kind: bytes,
    method: str | None = None,
    reach: Reach | None = None,
    depth: int = 0,
) -> bool:
    """Whether the project module ``qualname`` points into may define what it names, by its
    text: ``def name``/``class name`` (with ``def method`` for a class whose method is
    called), following a re-export (``from .impl import name``) through the re-exporting
    module's imports; and, with ``reach``, whether the defining module may reach that text
    (see :func:`may_reach`). ``Model.objects.filter`` names no project function at all."""
    parts = qualname.split(".")
    for split in range(len(parts) - 1, 0, -1):
        file = model.find_module(".".join(parts[:split]))
        if file is not None:
            break
    else:
        return False
    rest = parts[split:]
    if len(rest) > 2 or depth > 3:
        return False
    memo: dict[tuple[str, str, bytes, str | None], str | bool] = model.memo("helper-texts-define", dict)
    key = (str(file.path), ".".join(rest), kind, method)
    if key not in memo:
        memo[key] = _text_defines(model, file, rest, kind, method)
    found = memo[key]
    if isinstance(found, str):
        return may_define(model, found, kind, method, reach, depth + 1)
    function = method if kind == b"class" and method is not None else rest[-1]
    return found and (reach is None or may_reach(model, file, function, reach))


def _text_defines(
    model: ProjectModel, file: SourceFile, rest: list[str], kind: bytes, method: str | None
) -> str | bool:
    """True/False, or the qualified name a re-exported first part of ``rest`` comes from."""
    text = _module_text(model, file)
    wanted = [(kind if len(rest) == 1 else b"class", rest[0])]
    if len(rest) == 2:
        wanted.append((b"def", rest[1]))
    elif method is not None:
        wanted.append((b"def", method))
    if all(name in (text.defs if word == b"def" else text.classes) for word, name in wanted):
        return True
    # A re-export (``from .impl import name`` in a package's ``__init__``), read from the text.
    target = text.imports.get(rest[0])
    return ".".join([target, *rest[1:]]) if target is not None else False


@dataclass
class _ModuleText:
    """What the checks read from one module's text, read once."""

    data: bytes
    defs: dict[str, list[tuple[int, int]]]
    """Each ``def`` name -> (offset, indentation) of each of its ``def`` lines."""
    classes: set[str]
    imports: dict[str, str]


_DEF_OR_CLASS = re.compile(rb"(?m)^([ \t]*)(?:async[ \t]+)?(def|class)[ \t]+(\w+)")


def _module_text(model: ProjectModel, file: SourceFile) -> _ModuleText:
    def compute() -> _ModuleText:
        data = _text(file)
        defs: dict[str, list[tuple[int, int]]] = {}
        classes: set[str] = set()
        for match in _DEF_OR_CLASS.finditer(data):
            name = match[3].decode("ascii", "replace")
            if match[2] == b"class":
                classes.add(name)
            else:
                defs.setdefault(name, []).append((match.start(), len(match[1])))
        return _ModuleText(data, defs, classes, _imported_names(file, data))

    return model.memo(("helper-texts-module", str(file.path)), compute)


def def_line_of(model: ProjectModel, file: SourceFile, name: str) -> int | None:
    """The line of the ``def name`` of ``file`` when its text defines ``name`` once."""
    text = _module_text(model, file)
    found = text.defs.get(name, [])
    if len(found) != 1:
        return None
    return text.data.count(b"\n", 0, found[0][0]) + 1  # the match starts the ``def`` line


def absolute_module(file: SourceFile, level: int, module: str) -> str | None:
    """The module a ``from`` import names, relative ones (``from ..x``) made absolute."""
    if not level:
        return module or None
    package = file.module if file.is_package else file.module.rpartition(".")[0]
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base) or None


def may_reach(
    model: ProjectModel, file: SourceFile, function: str, reach: Reach, depth: int | None = None
) -> bool:
    """Whether ``reach`` matches the text of the functions named ``function`` in ``file``,
    or, up to ``reach.depth`` calls away, of a function of the module they call, or of a
    project module they call into: else following a call of it cannot lead to what the
    rule looks for, and its module need not be parsed."""
    depth = reach.depth if depth is None else depth
    memo: dict[tuple[str, str, bytes, int], bool] = model.memo("helper-texts-reach", dict)
    key = (str(file.path), function, reach.text.pattern, depth)
    if key not in memo:
        memo[key] = False  # a cycle of calls ends here
        text = _module_text(model, file)
        body = b"\n".join(_function_texts(text, function))
        found = reach.text.search(body) is not None
        if not found and depth > 0:
            imports = text.imports
            for called in set(_CALLED.findall(body)):
                name = called.decode("ascii", "replace")
                target = imports.get(name.partition(".")[0])
                if target is None:
                    found = may_reach(model, file, name.rpartition(".")[2], reach, depth - 1)
                else:
                    other = _module_for(model, target, name)
                    found = (
                        other is not None and reach.text.search(_module_text(model, other).data) is not None
                    )
                if found:
                    break
        memo[key] = found
    return memo[key]


_CALLED = re.compile(rb"(?<![\w.])((?:self\.|cls\.)?[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)\s*\(")


def _function_texts(text: _ModuleText, name: str) -> list[bytes]:
    """The text of each ``def name`` of the module (functions and methods alike): from the
    ``def`` line to the next line indented no deeper (a closing bracket or comment aside)."""
    data = text.data
    found: list[bytes] = []
    for offset, indent in text.defs.get(name, ()):
        start = data.find(b"\n", offset) + 1 or len(data)
        end = len(data)
        for line in _LINE_START.finditer(data, start):
            if len(line[1]) <= indent and line[2] not in b")]}#":
                end = line.start()
                break
        found.append(data[offset:end])
    return found


_LINE_START = re.compile(rb"(?m)^([ \t]*)([^ \t\r\n])")


def _imported_names(file: SourceFile, data: bytes) -> dict[str, str]:
    """Module-level names the import statements of ``file`` bind, to what they name."""
    names: dict[str, str] = {}
    for match in _FROM_IMPORT.finditer(data):
        module = absolute_module(file, len(match[1]), match[2].decode("ascii", "replace"))
        if module is None:
            continue
        for item in re.sub(rb"#[^\n]*", b"", match[3]).strip().strip(b"()").split(b","):
            words = item.decode("ascii", "replace").split()
            if len(words) == 1 or (len(words) == 3 and words[1] == "as"):
                names[words[-1]] = f"{module}.{words[0]}"
    for match in _IMPORT.finditer(data):
        for imported in match[1].decode("ascii", "replace").split(","):
            parts = imported.split()
            if len(parts) == 3 and parts[1] == "as":
                names[parts[2]] = parts[0]
            elif len(parts) == 1:
                names[parts[0].partition(".")[0]] = parts[0].partition(".")[0]
    return names


def _module_for(model: ProjectModel, target: str, called: str) -> SourceFile | None:
    """The project module a call ``called`` reaches through the imported ``target``: the
    module itself (``utils.f()`` after ``from pkg import utils``) or the one defining it."""
    rest = called.partition(".")[2]
    for name in (f"{target}.{rest}".rpartition(".")[0] if rest else "", target, target.rpartition(".")[0]):
        other = model.find_module(name) if name else None
        if other is not None and not other.is_test:
            return other
    return None


def _text(file: SourceFile) -> bytes:
    """The file's bytes, not kept in memory when nothing had read them yet."""
    loaded = file.data is not None
    data = file.read() or b""
    if not loaded:
        file.forget_contents()
    return data
