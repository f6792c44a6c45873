"""Call-site analysis shared by the rules about calling tasks (CEL402-404, CEL504, CEL707-708).

What a rule sees is one call in one function. This module answers the questions those
rules share, from the syntax and the project model only:

* which names are local to the enclosing functions, and what they were assigned
  (flow-insensitive: a name counts only when *every* binding of it agrees);
* what an expression is: an ``AsyncResult`` (``t.delay()``, ``AsyncResult(id)``, a
  group or chord applied), a signature or canvas (``t.s()``, ``group(...)``, ``a | b``),
  an enqueue call, a multiprocessing pool, a model instance fetched from the ORM;
* the fully qualified names an expression may stand for (``celery.group``), with
  function-local names shadowing module-level imports.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from .entities import External
from .options import task_for_expression
from .scopes import Binding, Scope, scope_of

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

if TYPE_CHECKING:
    from .files import SourceFile
    from .model import ProjectModel, Task
    from .scan import ModuleSummary

GROUP = frozenset({"celery.group", "celery.canvas.group"})
CHAIN = frozenset({"celery.chain", "celery.canvas.chain", "celery.canvas._chain"})
CHORD = frozenset({"celery.chord", "celery.canvas.chord"})
SIGNATURE = frozenset(
    {
        "celery.signature",
        "celery.Signature",
        "celery.subtask",
        "celery.canvas.signature",
        "celery.canvas.Signature",
        "celery.canvas.subtask",
    }
)
CANVAS = GROUP | CHAIN | CHORD
ASYNC_RESULT = frozenset({"celery.result.AsyncResult"})
RESULT_CLASSES = frozenset({"celery.result.GroupResult", "celery.result.ResultSet"})
ENQUEUE_METHODS = frozenset({"delay", "apply_async"})
SIGNATURE_METHODS = frozenset({"s", "si", "signature", "subtask"})
# Methods of a signature that return a signature (``set`` and ``on_error`` return self).
SIGNATURE_CHAINING = frozenset({"set", "clone", "on_error", "replace"})
# Process pools: their ``apply_async`` has nothing to do with Celery.
POOL_MODULES = frozenset({"multiprocessing", "billiard", "concurrent"})
# Django model managers: ``Model.objects``, ``Model._default_manager``.
MANAGER_ATTRS = frozenset({"objects", "_default_manager", "_base_manager"})
# Queryset methods after which ``.first()``/``.last()`` return model instances.
QUERYSET_METHODS = frozenset(
    {
        "all",
        "filter",
        "exclude",
        "order_by",
        "select_related",
        "prefetch_related",
        "annotate",
        "distinct",
        "using",
        "only",
        "defer",
        "reverse",
        "select_for_update",
    }
)
# Queryset methods whose results are plain data, not model instances.
NOT_INSTANCES = frozenset(
    {"values", "values_list", "count", "exists", "aggregate", "dates", "datetimes", "in_bulk"}
)

_MAX_DEPTH = 12


def code_of(node: cst.CSTNode, limit: int = 60) -> str:
    """Source text of ``node`` on one line, shortened to ``limit`` characters."""
    text = " ".join(cst.Module([]).code_for_node(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def method_of(call: cst.Call) -> str | None:
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def positional(call: cst.Call) -> list[cst.Arg]:
    return [a for a in call.args if a.keyword is None]


def is_literal(expr: cst.BaseExpression, value: str) -> bool:
    return isinstance(expr, cst.Name) and expr.value == value


# --------------------------------------------------------------------------- the analysis
class FilePlace(Protocol):
    """Where the questions are asked: a file of a modelled project, and the functions
    enclosing the node being visited (the engine's per-file context provides it)."""

    @property
    def model(self) -> ProjectModel: ...

    @property
    def summary(self) -> ModuleSummary: ...

    @property
    def file(self) -> SourceFile: ...

    @property
    def function_stack(self) -> list[cst.FunctionDef]: ...


# The scopes of the functions of the file being linted, shared by the rules' ``CallSites``
# (eight rules ask of the same functions): the engine lints one file at a time, and the
# summary is held so that the ``id`` of a function node is never that of another node.
_file_scopes: tuple[ModuleSummary | None, dict[int, Scope]] = (None, {})


def _scopes_of(summary: ModuleSummary) -> dict[int, Scope]:
    global _file_scopes
    held, scopes = _file_scopes
    if held is not summary:
        scopes = {}
        _file_scopes = (summary, scopes)
    return scopes


class CallSites:
    """Questions about expressions at one place of one file (``stack``: enclosing functions)."""

    def __init__(self, context: FilePlace) -> None:
        self.context = context
        self.model: ProjectModel = context.model
        self.summary: ModuleSummary = context.summary
        self._scopes = _scopes_of(context.summary)
        self._task_bodies: set[int] | None = None

    @property
    def stack(self) -> list[cst.FunctionDef]:
        return self.context.function_stack

    # -- scopes ---------------------------------------------------------------------
    def scope(self, func: cst.FunctionDef) -> Scope:
        found = self._scopes.get(id(func))
        if found is None:
            found = scope_of(func)
            self._scopes[id(func)] = found
        return found

    def owner(self, name: str, stack: Sequence[cst.FunctionDef] | None = None) -> Scope | None:
        """The innermost enclosing function that binds ``name`` (None: a module-level name)."""
        for func in reversed(stack if stack is not None else self.stack):
            scope = self.scope(func)
            if name in scope.globals:
                return None
            if name in scope.nonlocals:
                continue
            if scope.binds(name):
                return scope
        return None

    def bindings(self, name: str) -> list[Binding] | None:
        """The local bindings of ``name`` when it is a plain local (not a parameter or global)."""
        scope = self.owner(name)
        return scope.assigned(name) if scope is not None else None

    def local_values(self, name: str) -> list[cst.BaseExpression] | None:
        """What a local name is assigned, when every binding is a plain ``name = value``."""
        found = self.bindings(name)
        if not found or any(b.kind != "assign" or b.value is None for b in found):
            return None
        return [b.value for b in found if b.value is not None]

    def is_local(self, expr: cst.BaseExpression) -> bool:
        head = _head(expr)
        return head is not None and self.owner(head) is not None

    def is_task_body(self, func: cst.FunctionDef) -> bool:
        if self._task_bodies is None:
            self._task_bodies = {
                id(t.body) for t in self.model.tasks_in(self.context.file) if t.body is not None
            }
        return id(func) in self._task_bodies

    # -- names ------------------------------------------------------------------------
    def qualname(self, expr: cst.BaseExpression) -> str | None:
        """The dotted name ``expr`` stands for as imported (cheap: no other module is parsed)."""
        if not isinstance(expr, (cst.Name, cst.Attribute)):
            return None
        qualname = self.model.qualname_of(self.summary, expr)
        if qualname is None or self.is_local(expr):
            return None
        return qualname

    def names_in(self, expr: cst.BaseExpression, table: frozenset[str]) -> bool:
        """Whether ``expr`` names one of ``table`` (``celery.group``), imported directly, under
        an alias, or re-exported by a project module under the same name."""
        if not isinstance(expr, (cst.Name, cst.Attribute)):
            return False
        qualname = self.model.qualname_of(self.summary, expr)
        if qualname is None:
            return False
        if qualname not in table:
            last = qualname.rpartition(".")[2]
            if not any(name.rpartition(".")[2] == last for name in table):
                return False
            symbol = self.model.resolve(qualname)
            if not isinstance(symbol, External) or symbol.qualname not in table:
                return False
        return not self.is_local(expr)

    def _from_pool_module(self, expr: cst.BaseExpression) -> bool:
        qualname = self.qualname(expr)
        return qualname is not None and qualname.split(".")[0] in POOL_MODULES

    def task(self, expr: cst.BaseExpression) -> Task | None:
        """The project task ``expr`` names (``add``, ``tasks.add``); None for local names."""
        if self.is_local(expr):
            return None
        return task_for_expression(self.model, self.summary, expr)

    # -- what an expression is ----------------------------------------------------------
    def pool_like(self, receiver: cst.BaseExpression, depth: int = 0) -> bool:
        """A multiprocessing/billiard pool (its ``apply_async`` is not Celery's)."""
        if depth > _MAX_DEPTH:
            return False
        last = receiver.attr.value if isinstance(receiver, cst.Attribute) else None
        if isinstance(receiver, cst.Name):
            last = receiver.value
        if last is not None and "pool" in last.lower():
            return True
        if self._from_pool_module(receiver):
            return True
        if isinstance(receiver, cst.Call):
            return self.pool_like(receiver.func, depth + 1)
        if isinstance(receiver, cst.Name):
            found = self.bindings(receiver.value) or []
            return any(
                b.value is not None and b.kind in ("assign", "with") and self.pool_like(b.value, depth + 1)
                for b in found
            )
        return False

    def is_enqueue(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        """``x.delay(...)`` or a Celery ``x.apply_async(...)``, directly or via a local name."""
        if depth > _MAX_DEPTH:
            return False
        if isinstance(expr, cst.Call):
            return self.is_enqueue_call(expr)
        if isinstance(expr, cst.Name):
            values = self.local_values(expr.value)
            return bool(values) and all(self.is_enqueue(v, depth + 1) for v in values or ())
        return False

    def is_enqueue_call(self, call: cst.Call) -> bool:
        method = method_of(call)
        if method == "delay":
            return True
        if method == "apply_async":
            assert isinstance(call.func, cst.Attribute)
            return not self.pool_like(call.func.value)
        return False

    def is_canvas(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        """A group, chain or chord (calling one applies it asynchronously)."""
        if depth > _MAX_DEPTH:
            return False
        if isinstance(expr, cst.Call):
            if self.names_in(expr.func, CANVAS):
                return True
            method = method_of(expr)
            if method in SIGNATURE_CHAINING:
                assert isinstance(expr.func, cst.Attribute)
                return self.is_canvas(expr.func.value, depth + 1)
            return False
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.BitOr):
            return self.is_signature(expr.left, depth + 1) or self.is_signature(expr.right, depth + 1)
        if isinstance(expr, cst.Name):
            values = self.local_values(expr.value)
            return bool(values) and all(self.is_canvas(v, depth + 1) for v in values or ())
        return False

    def is_signature(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        """A signature or canvas: ``t.s()``, ``t.si()``, ``signature(...)``, ``group(...)``, ``a | b``."""
        if depth > _MAX_DEPTH:
            return False
        if self.is_canvas(expr, depth):
            return True
        if isinstance(expr, cst.Call):
            method = method_of(expr)
            if method in SIGNATURE_METHODS:
                return True
            if method in SIGNATURE_CHAINING:
                assert isinstance(expr.func, cst.Attribute)
                return self.is_signature(expr.func.value, depth + 1)
            return self.names_in(expr.func, SIGNATURE)
        if isinstance(expr, cst.Name):
            values = self.local_values(expr.value)
            return bool(values) and all(self.is_signature(v, depth + 1) for v in values or ())
        return False

    def is_group(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        if depth > _MAX_DEPTH:
            return False
        if isinstance(expr, cst.Call):
            return self.names_in(expr.func, GROUP)
        if isinstance(expr, cst.Name):
            values = self.local_values(expr.value)
            return values is not None and len(values) == 1 and self.is_group(values[0], depth + 1)
        return False

    def is_result(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        """Provably a Celery result (``AsyncResult``, ``GroupResult``), directly or via a local name."""
        if depth > _MAX_DEPTH:
            return False
        if isinstance(expr, cst.Name):
            found = self.bindings(expr.value)
            if not found:
                return False
            for binding in found:
                if binding.value is None:
                    return False
                if binding.kind == "assign":
                    if not self.is_result(binding.value, depth + 1):
                        return False
                elif binding.kind == "for":
                    if not self.iterates_results(binding.value, depth + 1):
                        return False
                else:
                    return False
            return True
        if not isinstance(expr, cst.Call):
            return False
        func = expr.func
        if self.is_enqueue_call(expr):
            return True
        if isinstance(func, cst.Attribute) and func.attr.value == "send_task":
            return True
        if isinstance(func, cst.Attribute) and func.attr.value == "AsyncResult":
            return not self._from_pool_module(func)
        if isinstance(func, cst.Name) and func.value == "AsyncResult":
            return self.names_in(func, ASYNC_RESULT)
        if isinstance(func, cst.Attribute) and func.attr.value == "restore":
            owner = func.value
            if isinstance(owner, cst.Attribute) and owner.attr.value == "GroupResult":
                return not self._from_pool_module(owner)
            return isinstance(owner, cst.Name) and self.names_in(owner, RESULT_CLASSES)
        if self.names_in(func, RESULT_CLASSES):
            return True
        # group(...)(), chord(header)(callback), (a.s() | b.s())(): applied asynchronously.
        return self.is_canvas(func, depth + 1)

    def iterates_results(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        """A literal list/comprehension of results (``[t.delay(i) for i in items]``)."""
        if depth > _MAX_DEPTH:
            return False
        if isinstance(expr, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            return self.is_result(expr.elt, depth + 1)
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            return bool(expr.elements) and all(
                isinstance(e, cst.Element) and self.is_result(e.value, depth + 1) for e in expr.elements
            )
        if isinstance(expr, cst.Name):
            values = self.local_values(expr.value)
            return bool(values) and all(self.iterates_results(v, depth + 1) for v in values or ())
        return False

    # -- ORM objects ------------------------------------------------------------------------
    def orm_fetch(self, expr: cst.BaseExpression) -> bool:
        """A model instance: ``M.objects.get()``, ``get_object_or_404()``, ``qs.first()``, ..."""
        if isinstance(expr, cst.Subscript):
            # ``M.objects.get_or_create(...)[0]``
            return (
                len(expr.slice) == 1
                and isinstance(expr.slice[0].slice, cst.Index)
                and isinstance(expr.slice[0].slice.value, cst.Integer)
                and expr.slice[0].slice.value.value == "0"
                and _get_or_create(expr.value)
            )
        if not isinstance(expr, cst.Call):
            return False
        func = expr.func
        last = func.attr.value if isinstance(func, cst.Attribute) else None
        if isinstance(func, cst.Name):
            last = func.value
        if last == "get_object_or_404":
            return True
        if not isinstance(func, cst.Attribute) or last is None:
            return False
        receiver = func.value
        if last == "get_object" and is_literal(receiver, "self"):
            return True
        methods, attrs = _chain_parts(receiver)
        if methods & NOT_INSTANCES:
            return False
        managed = bool(attrs & MANAGER_ATTRS)
        if last in ("get", "create"):
            return managed
        if last in ("first", "last", "latest", "earliest"):
            if last in ("first", "last") and expr.args:
                return False
            return managed or (isinstance(receiver, cst.Call) and method_of(receiver) in QUERYSET_METHODS)
        return False

    def orm_bound(self, name: str) -> cst.BaseExpression | None:
        """The ORM fetch a local name is bound to, when every binding is one."""
        found = self.bindings(name)
        if not found:
            return None
        first: cst.BaseExpression | None = None
        for binding in found:
            value = binding.value
            if value is None:
                return None
            fetched = binding.kind == "assign" and self.orm_fetch(value)
            unpacked = binding.kind == "unpack" and binding.index == 0 and _get_or_create(value)
            if not (fetched or unpacked):
                return None
            first = first or value
        return first


def _head(expr: cst.BaseExpression) -> str | None:
    node = expr
    while isinstance(node, (cst.Attribute, cst.Call, cst.Subscript)):
        node = node.func if isinstance(node, cst.Call) else node.value
    return node.value if isinstance(node, cst.Name) else None


def _chain_parts(expr: cst.BaseExpression) -> tuple[set[str], set[str]]:
    """Method names called and attribute names used along ``a.b(...).c.d(...)``."""
    methods: set[str] = set()
    attrs: set[str] = set()
    node = expr
    while True:
        if isinstance(node, cst.Call):
            if isinstance(node.func, cst.Attribute):
                methods.add(node.func.attr.value)
                node = node.func.value
                continue
            break
        if isinstance(node, cst.Attribute):
            attrs.add(node.attr.value)
            node = node.value
            continue
        break
    return methods, attrs


def _get_or_create(expr: cst.BaseExpression) -> bool:
    if not isinstance(expr, cst.Call) or not isinstance(expr.func, cst.Attribute):
        return False
    if expr.func.attr.value not in ("get_or_create", "update_or_create"):
        return False
    methods, attrs = _chain_parts(expr.func.value)
    return bool(attrs & MANAGER_ATTRS) and not methods & NOT_INSTANCES


def canvas_elements(expr: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    """The members of a literal task list: ``[a, b]``, ``(a, b)``, ``(t.s(i) for i in x)``."""
    if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
        for element in expr.elements:
            if isinstance(element, cst.Element):
                yield element.value
    elif isinstance(expr, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
        yield expr.elt
    else:
        yield expr
