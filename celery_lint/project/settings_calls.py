"""Module-level calls that put settings into a settings module's namespace.

django-split-settings' ``include("base.py", optional("local.py"), "components/*.py")`` runs
each file a pattern matches (relative to the folder of the file that calls it) in the
calling module's namespace, as star imports would; file names need not be importable. A
settings class exported at import time (``SiteSettings.export(__name__)``, whose body
``setattr``s the class's attributes onto ``sys.modules[name]``, or
``globals().update(vars(SiteSettings))``) puts the class's attributes there, read along its
bases. What the analyzer cannot read makes the module unknown, never empty.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .apps import code_of, runtime_note
from .entities import ClassSym, ConfigWrite, External, FunctionSym, ModuleSym, ValueSym, assigned_names
from .evaluate import NotEvaluable, evaluate
from .scan import ModuleSummary, dotted_name
from .symbols import SymbolResolver

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

Writes = dict[str, list[ConfigWrite]]
Flatten = Callable[[ModuleSummary], tuple[Writes, "str | None"]]
"""Settings in effect at the end of a module (its own includes and star imports followed)."""

_SPLIT_SETTINGS = ("split_settings.tools.", "split_settings.wrappers.", "split_settings.")
_HELPERS = frozenset({"include", "optional", "one_of", "entry"})


@dataclass
class CallEffect:
    """What one module-level call does to the module's settings."""

    units: list[Writes] = field(default_factory=list)
    """Settings the call sets, in the order it sets them."""
    opaque: str | None = None
    overlays: list[str] = field(default_factory=list)
    """Optional files absent from the repository (configuration only a deployment has)."""


def settings_call_effect(
    model: SymbolResolver, module: ModuleSummary, call: cst.Call, flatten: Flatten
) -> CallEffect | None:
    """What ``call`` (a statement at the module level of ``module``) does to the module's
    settings; None when it is not a call that sets module settings."""
    func = call.func
    if _split_settings(model, module, func) == "include":
        return _include(model, module, call, flatten)
    if isinstance(func, cst.Attribute) and func.attr.value == "update" and _is_module_namespace(func.value):
        return _namespace_update(model, module, call, flatten)
    return _export(model, module, call)


def _where(module: ModuleSummary, node: cst.CSTNode) -> str:
    """``globals().update(...) in app/settings.py:8``: a call named short, where it is."""
    text = code_of(node)
    shown = text
    if isinstance(node, cst.Call) and len(text) > 40:
        shown = f"{code_of(node.func)}(...)"
    return runtime_note(module, shown, text.removesuffix("..."), shown.removesuffix("...)") + "(")


# ------------------------------------------------------------------ S3: split-settings include()
def _split_settings(model: SymbolResolver, module: ModuleSummary, func: cst.BaseExpression) -> str:
    """``include``, ``optional``, ``one_of`` or ``entry`` when ``func`` names split-settings'
    function, else "". A bare name the module does not bind counts too: a file that
    ``include()`` runs shares the namespace of the module that includes it."""
    qualname = model.qualname_of(module, func)
    if qualname is not None:
        prefix, _, name = qualname.rpartition(".")
        return name if name in _HELPERS and prefix + "." in _SPLIT_SETTINGS else ""
    if isinstance(func, cst.Name) and func.value in _HELPERS:
        return func.value
    return ""


@dataclass
class _Pattern:
    patterns: list[str]
    """One pattern, or several for ``one_of(...)`` (every one that matches is included)."""
    optional: bool
    node: cst.CSTNode


def _include(model: SymbolResolver, module: ModuleSummary, call: cst.Call, flatten: Flatten) -> CallEffect:
    effect = CallEffect()
    where = _where(module, call)
    specs: list[_Pattern | None] = []
    for arg in call.args:
        if arg.keyword is not None:
            if arg.keyword.value == "scope" and _is_module_namespace(arg.value):
                continue
            effect.opaque = f"{where} includes settings into a namespace the analyzer cannot tell"
            return effect
        # ``include(*base_settings)`` of a list written in the project.
        elements = [(module, arg.value)] if not arg.star else _sequence(model, module, arg.value)
        if elements is None:
            effect.opaque = f"{where} takes its file patterns from a computed sequence"
            return effect
        for owner, element in elements:
            try:
                specs.append(_pattern(model, owner, element, optional=False))
            except NotEvaluable:
                effect.opaque = f"{where}: the file pattern {code_of(element)} cannot be evaluated"
                return effect
    folder = module.file.path.parent
    for spec in specs:
        if spec is None:  # optional(None): split-settings skips it
            continue
        matches: list[Path] = []
        for pattern in spec.patterns:
            found = sorted(glob.glob(os.path.join(glob.escape(str(folder)), pattern)))
            matches.extend(Path(os.path.abspath(p)) for p in found if os.path.isfile(p))
        if not matches:
            if spec.optional:
                effect.overlays.append(_where(module, spec.node))
                continue
            effect.opaque = f"{where}: no file matches {code_of(spec.node)} (split-settings raises OSError)"
            return effect
        unit: Writes = {}
        for path in matches:
            file = model.files.get(path)
            summary = model.summary_for(file) if file is not None else None
            if summary is None:
                effect.opaque = f"{where} includes {path.name}, which the analyzer does not read"
                return effect
            writes, opaque = flatten(summary)
            effect.opaque = effect.opaque or opaque
            for key, key_writes in writes.items():
                # glob() lists a folder in the file system's order: files of one pattern
                # that set a key differently leave it unknown.
                unit[key] = unit[key] + key_writes if key in unit and len(matches) > 1 else list(key_writes)
        effect.units.append(unit)
    return effect


def _sequence(
    model: SymbolResolver, module: ModuleSummary, expr: cst.BaseExpression
) -> list[tuple[ModuleSummary, cst.BaseExpression]] | None:
    """The elements of a list or tuple written in the project (a literal, or a name bound
    once to one), each with the module it is written in."""
    if isinstance(expr, (cst.Name, cst.Attribute)):
        symbol = model.symbol_of(module, expr)
        if not isinstance(symbol, ValueSym) or symbol.expr is None:
            return None
        module, expr = symbol.summary, symbol.expr
    if not isinstance(expr, (cst.List, cst.Tuple)):
        return None
    if not all(isinstance(e, cst.Element) for e in expr.elements):
        return None
    return [(module, e.value) for e in expr.elements]


def _pattern(
    model: SymbolResolver, module: ModuleSummary, expr: cst.BaseExpression, optional: bool
) -> _Pattern | None:
    if isinstance(expr, cst.Call):
        helper = _split_settings(model, module, expr.func)
        args = [a for a in expr.args if a.keyword is None and not a.star]
        if len(args) != len(expr.args):
            raise NotEvaluable("keyword or starred arguments")
        if helper == "optional" and len(args) == 1:
            if isinstance(args[0].value, cst.Name) and args[0].value.value == "None":
                return None
            inner = _pattern(model, module, args[0].value, optional=True)
            return None if inner is None else _Pattern(inner.patterns, True, expr)
        if helper == "entry" and len(args) == 1:
            inner = _pattern(model, module, args[0].value, optional)
            return None if inner is None else _Pattern(inner.patterns, optional, expr)
        if helper == "one_of" and args:
            patterns: list[str] = []
            for arg in args:
                inner = _pattern(model, module, arg.value, optional=False)
                if inner is not None:
                    patterns.extend(inner.patterns)
            return _Pattern(patterns, optional, expr)
    value = evaluate(model, module, expr)
    if not isinstance(value, str):
        raise NotEvaluable("not a file name")
    if not value:
        if optional:
            return None
        raise NotEvaluable("an empty file name")
    if value.endswith(".pyc"):
        raise NotEvaluable("a compiled file")
    return _Pattern([value], optional, expr)


# ------------------------------------------------------------------ S4: globals().update(...)
def _is_module_namespace(expr: cst.BaseExpression) -> bool:
    """``globals()`` (``locals()`` at module level is the same dict), and
    ``vars(sys.modules[__name__])``/``sys.modules[__name__].__dict__``."""
    if isinstance(expr, cst.Attribute) and expr.attr.value == "__dict__":
        return isinstance(expr.value, cst.Subscript) and _names_this_module(expr.value)
    if not isinstance(expr, cst.Call) or not isinstance(expr.func, cst.Name):
        return False
    if expr.func.value == "vars" and len(expr.args) == 1:
        return isinstance(expr.args[0].value, cst.Subscript) and _names_this_module(expr.args[0].value)
    return not expr.args and expr.func.value in ("globals", "locals")


def _namespace_update(
    model: SymbolResolver, module: ModuleSummary, call: cst.Call, flatten: Flatten
) -> CallEffect:
    effect = CallEffect()
    unit: Writes = {}
    for arg in call.args:
        if arg.keyword is not None:
            unit[arg.keyword.value] = [
                ConfigWrite(arg.keyword.value, None, arg.value, module, arg, "config module")
            ]
            continue
        if arg.star == "*":
            effect.opaque = f"{_where(module, call)} cannot be read"
            return effect
        found = _mapping(model, module, arg.value, flatten)
        if found is None:
            effect.opaque = f"{_where(module, call)} sets settings the analyzer cannot read"
            return effect
        unit.update(found)
    effect.units.append(unit)
    return effect


def _mapping(
    model: SymbolResolver, module: ModuleSummary, expr: cst.BaseExpression, flatten: Flatten, depth: int = 0
) -> Writes | None:
    """The keys and values of a mapping as written, or None when they cannot be read."""
    if depth > 10:
        return None
    if isinstance(expr, cst.Dict):
        result: Writes = {}
        for element in expr.elements:
            if isinstance(element, cst.StarredDictElement):
                inner = _mapping(model, module, element.value, flatten, depth + 1)
                if inner is None:
                    return None
                result.update(inner)
                continue
            if not isinstance(element, cst.DictElement):
                return None
            try:
                key = evaluate(model, module, element.key)
            except NotEvaluable:
                return None
            if not isinstance(key, str):
                return None
            result[key] = [ConfigWrite(key, None, element.value, module, element, "config module")]
        return result
    if isinstance(expr, cst.DictComp):
        return _comprehension(model, module, expr)
    if isinstance(expr, cst.Call):
        qualname = model.qualname_of(module, expr.func)
        if qualname == "dict":
            result = {}
            for arg in expr.args:
                if arg.keyword is not None:
                    result[arg.keyword.value] = [
                        ConfigWrite(arg.keyword.value, None, arg.value, module, arg, "config module")
                    ]
                    continue
                inner = None if arg.star == "*" else _mapping(model, module, arg.value, flatten, depth + 1)
                if inner is None:
                    return None
                result.update(inner)
            return result
    source = _attribute_source(model, module, expr)
    if source is not None:
        if isinstance(source, ModuleSym):
            writes, opaque = flatten(source.summary)
            return None if opaque else {k: v for k, v in writes.items() if not k.startswith("_")}
        return _class_attributes(model, source, own=True)
    if isinstance(expr, (cst.Name, cst.Attribute)):
        value = model.symbol_of(module, expr)
        if isinstance(value, ValueSym) and value.expr is not None:
            return _mapping(model, value.summary, value.expr, flatten, depth + 1)
    return None


def _attribute_source(
    model: SymbolResolver, module: ModuleSummary, expr: cst.BaseExpression
) -> ClassSym | ModuleSym | None:
    """What ``vars(C)``/``C.__dict__`` (a class's own attributes) or ``vars(module)`` reads."""
    target: cst.BaseExpression | None = None
    if (
        isinstance(expr, cst.Call)
        and _builtin(module, expr.func, "vars")
        and len(expr.args) == 1
        and not expr.args[0].star
    ):
        target = expr.args[0].value
    elif isinstance(expr, cst.Attribute) and expr.attr.value == "__dict__":
        target = expr.value
    if target is None:
        return None
    symbol = model.symbol_of(module, target)
    return symbol if isinstance(symbol, (ClassSym, ModuleSym)) else None


def _comprehension(model: SymbolResolver, module: ModuleSummary, comp: cst.DictComp) -> Writes | None:
    """``{k: v for k, v in vars(C).items() if k.isupper()}``,
    ``{k: getattr(C, k) for k in dir(C) if not k.startswith("_")}``."""
    loop = comp.for_in
    if loop.inner_for_in is not None or loop.asynchronous is not None:
        return None
    names = _loop_names(loop.target)
    if names is None or not isinstance(comp.key, cst.Name) or comp.key.value != names[0]:
        return None
    key_name, value_name = names
    iterable = loop.iter
    over_items = (
        isinstance(iterable, cst.Call)
        and isinstance(iterable.func, cst.Attribute)
        and iterable.func.attr.value == "items"
        and not iterable.args
    )
    if over_items:
        assert isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Attribute)
        iterable = iterable.func.value
    elif value_name is not None:
        return None
    klass: ClassSym | None = None
    own = True
    source = _attribute_source(model, module, iterable)
    if isinstance(source, ClassSym):
        klass = source
    elif (
        not over_items
        and isinstance(iterable, cst.Call)
        and _builtin(module, iterable.func, "dir")
        and len(iterable.args) == 1
    ):
        symbol = model.symbol_of(module, iterable.args[0].value)
        klass = symbol if isinstance(symbol, ClassSym) else None
        own = False
    if klass is None:
        return None
    # The value: the loop's value, or getattr(C, k) of the same class.
    value = comp.value
    if not (isinstance(value, cst.Name) and value.value == value_name) and not _getattr_of(
        model, module, value, klass, key_name
    ):
        return None
    attributes = _class_attributes(model, klass, own)
    if attributes is None:
        return None
    kept: Writes = {}
    for key, writes in attributes.items():
        verdicts = [_keeps(condition.test, key_name, key) for condition in loop.ifs]
        if any(v is None for v in verdicts):
            return None
        if all(verdicts):
            kept[key] = writes
    return kept


def _builtin(module: ModuleSummary, func: cst.BaseExpression, name: str) -> bool:
    """``func`` is the builtin ``name`` (not shadowed by the module)."""
    return (
        isinstance(func, cst.Name)
        and func.value == name
        and not module.defines(name)
        and name not in module.imports
    )


def _loop_names(target: cst.BaseExpression) -> tuple[str, str | None] | None:
    if isinstance(target, cst.Name):
        return target.value, None
    if isinstance(target, cst.Tuple) and len(target.elements) == 2:
        first, second = (e.value for e in target.elements)
        if isinstance(first, cst.Name) and isinstance(second, cst.Name):
            return first.value, second.value
    return None


def _getattr_of(
    model: SymbolResolver, module: ModuleSummary, expr: cst.BaseExpression, klass: ClassSym, key: str
) -> bool:
    if not (isinstance(expr, cst.Call) and _builtin(module, expr.func, "getattr")):
        return False
    args = expr.args
    if len(args) != 2 or not isinstance(args[1].value, cst.Name) or args[1].value.value != key:
        return False
    owner = model.symbol_of(module, args[0].value)
    return isinstance(owner, ClassSym) and owner.node is klass.node


def _keeps(test: cst.BaseExpression, name: str, key: str) -> bool | None:
    """Whether a comprehension's condition keeps ``key``; None when it cannot be told."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = _keeps(test.expression, name, key)
        return None if inner is None else not inner
    if isinstance(test, cst.BooleanOperation):
        left, right = _keeps(test.left, name, key), _keeps(test.right, name, key)
        if left is None or right is None:
            return None
        return (left and right) if isinstance(test.operator, cst.And) else (left or right)
    if (
        isinstance(test, cst.Call)
        and isinstance(test.func, cst.Attribute)
        and isinstance(test.func.value, cst.Name)
        and test.func.value.value == name
    ):
        method = test.func.attr.value
        if method == "isupper" and not test.args:
            return key.isupper()
        if method in ("startswith", "endswith") and len(test.args) == 1:
            argument = test.args[0].value
            if isinstance(argument, cst.SimpleString) and isinstance(argument.evaluated_value, str):
                text = argument.evaluated_value
                return key.startswith(text) if method == "startswith" else key.endswith(text)
    return None


# ------------------------------------------------------------------ S4: SiteSettings.export(__name__)
def _export(model: SymbolResolver, module: ModuleSummary, call: cst.Call) -> CallEffect | None:
    """``SiteSettings.export(__name__)`` or ``export_settings(SiteSettings, __name__)``: a
    function whose body ``setattr``s a class's attributes onto a module object."""
    if not any(_names_this_module(arg.value) for arg in call.args):
        return None
    func = call.func
    klass: ClassSym | None = None
    method: cst.FunctionDef | None = None
    if isinstance(func, cst.Attribute):
        owner = _class_of(model, module, func.value)
        if owner is None:
            # A library's object (``django_heroku.settings(locals())``) sets no Celery
            # setting; a project object the analyzer cannot tie to a class
            # (``{"prod": Production}[ENV].export(__name__)``) may.
            if isinstance(model.symbol_of(module, func.value), External):
                return None
            return CallEffect(
                opaque=f"{_where(module, call)} may set module settings the analyzer cannot read"
            )
        klass = owner
        mro, _ = _mro(model, owner)
        method = next(
            (
                stmt
                for c in mro
                for stmt in _body(c.node)
                if isinstance(stmt, cst.FunctionDef) and stmt.name.value == func.attr.value
            ),
            None,
        )
    else:
        function = model.symbol_of(module, func)
        if not isinstance(function, FunctionSym):
            return None
        method = function.node
        classes = [model.symbol_of(module, a.value) for a in call.args if not a.star]
        klass = next((c for c in classes if isinstance(c, ClassSym)), None)
    where = _where(module, call)
    if method is None or klass is None:
        return CallEffect(opaque=f"{where} may set module settings the analyzer cannot read")
    if not _sets_module_attributes(method, call):
        if _mentions_modules(method):
            return CallEffect(opaque=f"{where} may set module settings the analyzer cannot read")
        return None
    # ``vars(cls)``/``cls.__dict__`` in the body: the class's own attributes; else (``dir``,
    # ``inspect.getmembers``) along its bases.
    reads = [d for d in _descendants(method) if isinstance(d, cst.Call)]
    own = any(dotted_name(d.func) == "vars" for d in reads) or any(
        isinstance(d, cst.Attribute) and d.attr.value == "__dict__" for d in _descendants(method)
    )
    attributes = _class_attributes(model, klass, own)
    if attributes is None:
        return CallEffect(opaque=f"{where}: the attributes of class {klass.node.name.value} cannot be read")
    if any(isinstance(d.func, cst.Attribute) and d.func.attr.value == "isupper" for d in reads):
        attributes = {k: v for k, v in attributes.items() if k.isupper()}
    return CallEffect(units=[attributes])


def _class_of(model: SymbolResolver, module: ModuleSummary, expr: cst.BaseExpression) -> ClassSym | None:
    """The project class ``expr`` names, or of the instance it makes (``SiteSettings()``, a
    name bound to one)."""
    if isinstance(expr, cst.Call):
        expr = expr.func
    symbol = model.symbol_of(module, expr)
    if isinstance(symbol, ValueSym) and isinstance(symbol.expr, cst.Call):
        symbol = model.symbol_of(symbol.summary, symbol.expr.func)
    return symbol if isinstance(symbol, ClassSym) else None


def _names_this_module(expr: cst.BaseExpression) -> bool:
    """``__name__``, ``sys.modules[__name__]``, ``globals()``."""
    if isinstance(expr, cst.Name):
        return expr.value == "__name__"
    if isinstance(expr, cst.Subscript):
        return (dotted_name(expr.value) or "").endswith("modules") and any(
            isinstance(e.slice, cst.Index) and _names_this_module(e.slice.value) for e in expr.slice
        )
    return _is_module_namespace(expr)


def _sets_module_attributes(function: cst.FunctionDef, call: cst.Call) -> bool:
    """The body ``setattr``s onto a module object (``sys.modules[name]``, a local bound to
    one, or a parameter given ``sys.modules[__name__]`` by ``call``) or updates a module's
    namespace (``vars(module).update(...)``); ``setattr(cls, ...)`` is not an export."""
    modules: set[str] = set()
    if any(isinstance(a.value, cst.Subscript) and _names_this_module(a.value) for a in call.args):
        params = function.params
        modules.update(p.name.value for p in [*params.posonly_params, *params.params, *params.kwonly_params])
    for node in _descendants(function):
        if isinstance(node, cst.Assign) and _is_module_object(node.value, modules):
            modules.update(t.target.value for t in node.targets if isinstance(t.target, cst.Name))
    for node in _descendants(function):
        if not isinstance(node, cst.Call):
            continue
        if isinstance(node.func, cst.Name) and node.func.value == "setattr" and len(node.args) == 3:
            if _is_module_object(node.args[0].value, modules):
                return True
        elif (
            isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "update"
            and _mentions_modules(node.func.value)
        ):
            return True
    return False


def _is_module_object(expr: cst.BaseExpression, modules: set[str]) -> bool:
    """``sys.modules[name]``, ``sys.modules.get(name)``, ``importlib.import_module(name)``,
    or a name known to hold one."""
    if isinstance(expr, cst.Name):
        return expr.value in modules
    if isinstance(expr, cst.Call):
        name = dotted_name(expr.func) or ""
        return name.endswith("import_module") or name.endswith("modules.get")
    return isinstance(expr, cst.Subscript) and (dotted_name(expr.value) or "").endswith("modules")


def _mentions_modules(node: cst.CSTNode) -> bool:
    return any(
        (isinstance(d, cst.Attribute) and d.attr.value in ("modules", "__dict__"))
        or (isinstance(d, cst.Name) and d.value in ("globals", "vars"))
        for d in _descendants(node)
    )


def _descendants(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    pending = list(node.children)
    while pending:
        child = pending.pop()
        yield child
        pending.extend(child.children)


# ------------------------------------------------------------------ class attributes
def _body(klass: cst.ClassDef) -> list[cst.BaseStatement | cst.BaseSmallStatement]:
    body = klass.body
    return list(body.body)


def _own_attributes(klass: ClassSym) -> tuple[Writes, str | None]:
    """Attributes a class body assigns, the last assignment of each name."""
    result: Writes = {}
    for stmt in _body(klass.node):
        if isinstance(stmt, cst.SimpleStatementLine):
            smalls: list[cst.CSTNode] = list(stmt.body)
        elif isinstance(stmt, cst.BaseSmallStatement):
            smalls = [stmt]
        elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            continue
        else:
            return result, f"class {klass.node.name.value} sets attributes in a block"
        for small in smalls:
            if isinstance(small, cst.AnnAssign) and small.value is None:
                continue  # ``X: int`` alone sets no attribute
            for name, value in assigned_names(small):
                if not name.startswith("_"):
                    result[name] = [ConfigWrite(name, None, value, klass.summary, small, "config module")]
    return result, None


def _mro(model: SymbolResolver, klass: ClassSym, depth: int = 0) -> tuple[list[ClassSym], str | None]:
    """The project classes of ``klass``'s method resolution order (C3), and why it is
    incomplete when a base is not one of the project's classes. Once per class: a
    hierarchy of diamonds costs its number of classes, not 2**levels."""
    line, reason = model.resolved_memo(
        ("mro", id(klass.node)), klass.node, lambda: _mro_once(model, klass, depth)
    )
    return list(line), reason


def _mro_once(model: SymbolResolver, klass: ClassSym, depth: int) -> tuple[list[ClassSym], str | None]:
    name = klass.node.name.value
    if depth > 20:
        return [klass], f"class {name} has too deep a hierarchy"
    bases: list[ClassSym] = []
    reason: str | None = None
    for arg in klass.node.bases:
        if arg.keyword is not None or arg.star or model._plain_base(klass.summary, arg.value):
            continue
        symbol = model.symbol_of(klass.summary, arg.value)
        if isinstance(symbol, ClassSym):
            bases.append(symbol)
        else:
            reason = (
                reason or f"class {name} derives from {code_of(arg.value)}, which the analyzer cannot read"
            )
    sequences: list[list[ClassSym]] = []
    for base in bases:
        line, inner = _mro(model, base, depth + 1)
        reason = reason or inner
        sequences.append(line)
    sequences.append(list(bases))
    result = [klass]
    while any(sequences):
        sequences = [s for s in sequences if s]
        head = next(
            (
                s[0]
                for s in sequences
                if not any(s[0].node is other.node for t in sequences for other in t[1:])
            ),
            None,
        )
        if head is None:
            return result, f"class {name} has no consistent method resolution order"
        result.append(head)
        sequences = [s[1:] if s[0].node is head.node else s for s in sequences]
    return result, reason


def _class_attributes(model: SymbolResolver, klass: ClassSym, own: bool) -> Writes | None:
    """Public attributes of ``klass`` (its own only, or along its bases); None when a base or
    a block of a class body cannot be read."""
    classes, reason = ([klass], None) if own else _mro(model, klass)
    if reason is not None:
        return None
    result: Writes = {}
    for each in reversed(classes):
        attributes, opaque = _own_attributes(each)
        if opaque is not None:
            return None
        result.update(attributes)
    return result
