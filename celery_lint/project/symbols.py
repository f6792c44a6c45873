"""The second layer of the project model: from a name in a module to what it names
(following imports, aliases and star imports), and static evaluation of names."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .entities import App, AttrOf, ClassSym, External, FunctionSym, ModuleSym, Symbol, ValueSym
from .evaluate import NotEvaluable, evaluate, fresh_copy
from .modules import ModuleIndex
from .scan import ModuleSummary, dotted_name
from .values import Known, Origin, Resolved, Unknown

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

_T = TypeVar("_T")

CELERY_CLASS = frozenset({"celery.Celery", "celery.app.Celery", "celery.app.base.Celery"})
CELERY_TASK_CLASSES = frozenset(
    {
        "celery.Task",
        "celery.app.Task",
        "celery.app.task.Task",
        "celery.task.Task",
        "celery.task.base.Task",
        "celery.contrib.django.task.DjangoTask",
        "celery.contrib.abortable.AbortableTask",
    }
)
# Classes that take type parameters: since Celery 5.5 ``Celery[T]`` and ``Task[P, R]``
# (and the Task subclasses Celery ships) are generic. Parametrised, each is still that
# class: ``Celery[Any]("proj")`` makes a plain app, ``class A(Task[P, R])`` derives from Task.
_GENERIC_CLASSES = CELERY_CLASS | CELERY_TASK_CLASSES | {"typing.Generic", "typing_extensions.Generic"}


class SymbolResolver(ModuleIndex):
    """Name resolution and evaluation over the project's modules."""

    def __init__(
        self,
        root: Path,
        exclude: Iterable[str] = (),
        use_prefilter: bool = True,
        discovered: Iterable[Path] | None = None,
    ) -> None:
        super().__init__(root, exclude, use_prefilter, discovered)
        self._resolving: set[tuple[str, str]] = set()
        self._resolve_cache: dict[str, Symbol | None] = {}
        # Values of names already evaluated, by (module, name, depth): see ``evaluate_name``.
        self._evaluations: dict[Any, tuple[Any, Any]] = {}
        self._evaluations_for: dict[str, Symbol | None] = self._resolve_cache
        # Filled by the app layer: a name bound by ``Celery(...)`` resolves to its app.
        self._apps_by_node: dict[int, App] = {}
        # Project classes whose genericity is being decided (a cycle of bases ends there).
        self._deciding_generic: set[int] = set()

    # ------------------------------------------------------------------ resolution
    def qualname_of(self, summary: ModuleSummary, expr: cst.BaseExpression) -> str | None:
        dotted = dotted_name(expr)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        if head in summary.imports:
            base = summary.imports[head]
        elif summary.defines(head):
            base = f"{summary.name}.{head}" if summary.name else head
        elif head in ("dict", "list", "set", "tuple", "timedelta") and not rest:
            base = head
        else:
            # A star import may bring the name in.
            for star in summary.star_imports:
                target = self.module_summary(star)
                if target is not None and (target.defines(head) or head in target.imports):
                    base = f"{star}.{head}"
                    break
            else:
                return None
        return f"{base}.{rest}" if rest else base

    def resolve(self, qualname: str, depth: int = 0) -> Symbol | None:
        """Follow imports and aliases from a dotted name to what it names."""
        if depth == 0:
            if qualname in self._resolve_cache:
                return self._resolve_cache[qualname]
            result = self._resolve(qualname, 0)
            self._resolve_cache[qualname] = result
            return result
        return self._resolve(qualname, depth)

    def _resolve(self, qualname: str, depth: int) -> Symbol | None:
        if depth > 25:
            return None
        parts = qualname.split(".")
        for split in range(len(parts), 0, -1):
            module_name = ".".join(parts[:split])
            file = self.find_module(module_name)
            if file is None:
                continue
            summary = self.summary_for(file)
            if summary is None:
                return None
            rest = parts[split:]
            if not rest:
                return ModuleSym(summary)
            symbol = self._lookup(summary, rest[0], depth)
            if symbol is None:
                return None
            if len(rest) > 1:
                return self._attribute(symbol, tuple(rest[1:]), depth)
            return symbol
        return External(qualname)

    def _attribute(self, symbol: Symbol, attrs: tuple[str, ...], depth: int) -> Symbol | None:
        if isinstance(symbol, External):
            return External(symbol.qualname + "." + ".".join(attrs))
        if isinstance(symbol, ModuleSym):
            return self.resolve(symbol.summary.name + "." + ".".join(attrs), depth + 1)
        if isinstance(symbol, AttrOf):
            return AttrOf(symbol.base, symbol.attrs + attrs)
        held = self._held_app(symbol, attrs[0])
        if held is not None:
            return held if len(attrs) == 1 else AttrOf(held, attrs[1:])
        return AttrOf(symbol, attrs)

    def _held_app(self, symbol: Symbol, attr: str) -> App | None:
        """The app a project object holds in its attribute ``attr`` (the app layer knows)."""
        return None

    def _lookup(self, summary: ModuleSummary, name: str, depth: int) -> Symbol | None:
        key = (summary.name, name)
        if key in self._resolving:
            return None
        self._resolving.add(key)
        try:
            if name in summary.bindings:
                bindings = summary.bindings[name]
                binding = bindings[-1]
                app = self._apps_by_node.get(id(binding.node))
                if app is not None:
                    return app
                value = binding.value
                if len(bindings) == 1 and value is not None and isinstance(value, (cst.Name, cst.Attribute)):
                    target = self.qualname_of(summary, value)
                    if target is not None:
                        return self.resolve(target, depth + 1)
                return ValueSym(summary, value if len(bindings) == 1 else None, name)
            if name in summary.classes:
                return ClassSym(summary, summary.classes[name])
            if name in summary.functions:
                return FunctionSym(summary, summary.functions[name])
            if name in summary.imports:
                return self.resolve(summary.imports[name], depth + 1)
            submodule_file = self.find_module(f"{summary.name}.{name}") if summary.name else None
            if submodule_file is not None:
                sub = self.summary_for(submodule_file)
                return ModuleSym(sub) if sub is not None else None
            for star in summary.star_imports:
                star_summary = self.module_summary(star)
                if star_summary is not None:
                    found = self._lookup(star_summary, name, depth + 1)
                    if found is not None:
                        return found
            return None
        finally:
            self._resolving.discard(key)

    def symbol_of(self, summary: ModuleSummary, expr: cst.BaseExpression) -> Symbol | None:
        if isinstance(expr, cst.Subscript):
            return self._parametrised_class(summary, expr)
        qualname = self.qualname_of(summary, expr)
        return self.resolve(qualname) if qualname is not None else None

    def derived_class(self, summary: ModuleSummary, expr: cst.BaseExpression) -> Symbol | None:
        """The class ``expr`` names where Celery derives a class from it with ``type()``
        (``base=``, ``task_cls``). A parametrised class names none there: ``type()`` does
        not resolve ``MyTask[P, R]`` to its class, and Celery raises TypeError."""
        if isinstance(expr, cst.Subscript):
            return None
        return self.symbol_of(summary, expr)

    def _parametrised_class(self, summary: ModuleSummary, expr: cst.Subscript) -> Symbol | None:
        """The generic class ``expr`` parametrises (``Celery[Task]``, ``MyTask[P, R]``),
        called or derived from; None for any other subscript (a mapping's item, an enum
        member by name), as before."""
        symbol = self.symbol_of(summary, expr.value)
        if isinstance(symbol, External):
            return symbol if symbol.qualname in _GENERIC_CLASSES else None
        if not isinstance(symbol, ClassSym) or id(symbol.node) in self._deciding_generic:
            return None
        self._deciding_generic.add(id(symbol.node))
        try:
            return symbol if self._class_derives(symbol, _GENERIC_CLASSES) else None
        finally:
            self._deciding_generic.discard(id(symbol.node))

    # ------------------------------------------------------------------ evaluation
    def evaluate_name(self, summary: ModuleSummary, name: str, depth: int) -> Any:
        """The value bound to ``name`` in ``summary``; raises :class:`NotEvaluable`.

        Memoised by (module, name, depth): a name bound twice from the name before it, level
        after level, is evaluated once per level and depth instead of 2**levels times (the
        depth is part of the key because past the evaluation's depth cap a value is unknown).
        """
        return self._memoised(summary, name, depth, lambda: self._evaluate_name(summary, name, depth))

    def _evaluate_name(self, summary: ModuleSummary, name: str, depth: int) -> Any:
        if name in summary.bindings:
            bindings = summary.bindings[name]
            if any(b.value is None for b in bindings):
                raise NotEvaluable(name)
            values = [evaluate(self, summary, b.value, depth) for b in bindings if b.value is not None]
            unconditional = [b for b in bindings if not b.conditional]
            if len(set(map(repr, values))) == 1:
                return values[0]
            if len(unconditional) == len(bindings):
                return values[-1]
            raise NotEvaluable(name)
        qualname = self.qualname_of(summary, cst.Name(name))
        if qualname is None:
            raise NotEvaluable(name)
        symbol = self.resolve(qualname)
        if isinstance(symbol, ValueSym) and symbol.expr is not None:
            return evaluate(self, symbol.summary, symbol.expr, depth)
        raise NotEvaluable(name)

    def evaluate_attribute(self, summary: ModuleSummary, expr: cst.Attribute, depth: int) -> Any:
        qualname = self.qualname_of(summary, expr)
        if qualname is None:
            raise NotEvaluable("attribute")

        def compute() -> Any:
            symbol = self.resolve(qualname)
            if isinstance(symbol, ValueSym) and symbol.expr is not None:
                return evaluate(self, symbol.summary, symbol.expr, depth)
            raise NotEvaluable("attribute")

        # A dotted name cannot be a plain name's key: the two memos do not meet.
        return self._memoised(summary, qualname + ".", depth, compute)

    def resolved_memo(self, key: tuple[Any, ...], holder: object, compute: Callable[[], _T]) -> _T:
        """``compute()`` once while name resolution stands (it starts afresh when modules
        or apps are found): for facts derived from resolved names. ``key`` may hold
        ``id(holder)``: the holder is kept with the entry, so its id is not reused."""
        if self._evaluations_for is not self._resolve_cache:
            self._evaluations = {}
            self._evaluations_for = self._resolve_cache
        if key not in self._evaluations:
            self._evaluations[key] = (holder, compute())
        return self._evaluations[key][1]  # type: ignore[no-any-return]

    def _memoised(self, summary: ModuleSummary, key: str, depth: int, compute: Callable[[], Any]) -> Any:
        if self._evaluations_for is not self._resolve_cache:
            # Name resolution started afresh (modules or apps found since): so do values.
            self._evaluations = {}
            self._evaluations_for = self._resolve_cache
        memo_key = ("value", id(summary), key, depth)
        if memo_key in self._evaluations:
            result = self._evaluations[memo_key][1]
        else:
            try:
                result = compute()
            except NotEvaluable as exc:
                result = exc
            # The summary is kept with its entry, so its id is not reused while the entry lives.
            self._evaluations[memo_key] = (summary, result)
        if isinstance(result, NotEvaluable):
            raise NotEvaluable(*result.args)
        return fresh_copy(result)

    def value_of(self, summary: ModuleSummary, expr: cst.BaseExpression, origin: Origin) -> Resolved:
        try:
            return Known(evaluate(self, summary, expr), origin)
        except NotEvaluable:
            return Unknown(f"{origin} is computed")

    def _class_derives(
        self, symbol: ClassSym, targets: frozenset[str], depth: int = 0, seen: set[int] | None = None
    ) -> bool:
        # ``seen``: each class once, so a hierarchy of diamonds (``class A1(A0, B0)``, ``class
        # B1(A0, B0)``, level after level) costs its number of classes, not 2**levels.
        seen = set() if seen is None else seen
        if depth > 20 or id(symbol.node) in seen:
            return False
        seen.add(id(symbol.node))
        for arg in symbol.node.bases:
            base = self.symbol_of(symbol.summary, arg.value)
            if isinstance(base, External) and base.qualname in targets:
                return True
            if isinstance(base, ClassSym) and self._class_derives(base, targets, depth + 1, seen):
                return True
        return False

    def _plain_base(self, summary: ModuleSummary, expr: cst.BaseExpression) -> bool:
        """``object``, ``abc.ABC``, ``typing.Generic[...]``: bases that contribute no settings."""
        if isinstance(expr, cst.Name) and expr.value == "object" and not summary.defines("object"):
            return "object" not in summary.imports
        target = expr.value if isinstance(expr, cst.Subscript) else expr
        qualname = self.qualname_of(summary, target)
        return qualname in ("abc.ABC", "typing.Generic", "typing.Protocol")
