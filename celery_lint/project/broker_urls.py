"""Literal broker and result-backend URLs in a setting's value expression.

A value may be a string, an f-string, a concatenation, a module constant (followed
across modules) or the fallback of an environment lookup. Parts computed at run time
are kept as a marker, so a password taken from the environment is never reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .model import ProjectModel, ValueSym
from .scan import ModuleSummary, dotted_name

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

COMPUTED = "\x00"
_MAX_DEPTH = 6
_MAX_TEXTS = 16

ENV_GETTERS = frozenset({"os.environ.get", "os.getenv", "os.environ.setdefault"})
# django-environ (``env("X", default=...)``) and python-decouple (``config("X", default=...)``).
KEYWORD_DEFAULT_GETTERS = frozenset({"env", "env.str", "env.url", "env.get_value", "config"})

PLACEHOLDER = re.compile(
    r"^(\$\{.*\}|\$[A-Za-z_][A-Za-z0-9_]*|<.*>|\{.*\}|\[.*\]|%\(.*\)s|%s|\*+|x+|\.\.\.)$", re.IGNORECASE
)
PLACEHOLDER_WORDS = frozenset(
    {
        "password",
        "pass",
        "passwd",
        "pwd",
        "pw",
        "secret",
        "changeme",
        "mypassword",
        "yourpassword",
        "your_password",
        "your-password",
        "redis_password",
        "rabbitmq_password",
    }
)
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>.*)$", re.DOTALL)
_NETLOC = re.compile(r"^(?:(?P<userinfo>[^@/?#]*)@)?(?P<hostport>[^/?#]*)(?P<tail>.*)$", re.DOTALL)


@dataclass(frozen=True)
class UrlText:
    text: str
    """The URL text, with ``COMPUTED`` where a part is only known at run time."""
    via: str = ""
    """How the literal reaches the setting: ``the fallback of os.environ.get``, ``REDIS_URL``."""


@dataclass(frozen=True)
class ParsedUrl:
    scheme: str
    user: str
    password: str | None
    host: str
    query: str

    def redacted(self) -> str:
        user = self.user.replace(COMPUTED, "...")
        host = self.host.replace(COMPUTED, "...")
        auth = f"{user}:***@" if self.password is not None else (f"{user}@" if user else "")
        return f"{self.scheme}://{auth}{host}"


def url_texts(model: ProjectModel, summary: ModuleSummary, expr: cst.BaseExpression) -> list[UrlText]:
    """Every literal URL text the expression can produce (only texts holding ``://``)."""
    return [t for t in _texts(model, summary, expr, 0, "") if "://" in t.text]


def _texts(
    model: ProjectModel, summary: ModuleSummary, expr: cst.BaseExpression, depth: int, via: str
) -> list[UrlText]:
    computed = [UrlText(COMPUTED, via)]
    if depth > _MAX_DEPTH:
        return computed
    if isinstance(expr, cst.SimpleString):
        value = expr.evaluated_value
        return [UrlText(value, via)] if isinstance(value, str) else computed
    if isinstance(expr, cst.ConcatenatedString):
        return _product(
            _texts(model, summary, expr.left, depth + 1, via),
            _texts(model, summary, expr.right, depth + 1, via),
        )
    if isinstance(expr, cst.FormattedString):
        result = [UrlText("", via)]
        for part in expr.parts:
            if isinstance(part, cst.FormattedStringText):
                result = _product(result, [UrlText(part.value, via)])
            elif isinstance(part, cst.FormattedStringExpression):
                result = _product(result, _texts(model, summary, part.expression, depth + 1, via))
        return result
    if isinstance(expr, cst.Name):
        return _name_texts(model, summary, expr, depth, via)
    if isinstance(expr, cst.Attribute):
        symbol = model.symbol_of(summary, expr)
        if isinstance(symbol, ValueSym) and symbol.expr is not None:
            return _texts(model, symbol.summary, symbol.expr, depth + 1, via or symbol.name)
        return computed
    if isinstance(expr, cst.Call):
        return _call_texts(model, summary, expr, depth, via)
    if isinstance(expr, cst.BinaryOperation):
        if isinstance(expr.operator, cst.Add):
            return _product(
                _texts(model, summary, expr.left, depth + 1, via),
                _texts(model, summary, expr.right, depth + 1, via),
            )
        if isinstance(expr.operator, cst.Modulo):
            return _texts(model, summary, expr.left, depth + 1, via)  # ``%(password)s`` stays a placeholder
        return computed
    if isinstance(expr, cst.IfExp):
        return [
            *_texts(model, summary, expr.body, depth + 1, via),
            *_texts(model, summary, expr.orelse, depth + 1, via),
        ][:_MAX_TEXTS]
    if isinstance(expr, cst.BooleanOperation):
        return [
            *_texts(model, summary, expr.left, depth + 1, via),
            *_texts(model, summary, expr.right, depth + 1, via),
        ][:_MAX_TEXTS]
    return computed


def _name_texts(
    model: ProjectModel, summary: ModuleSummary, expr: cst.Name, depth: int, via: str
) -> list[UrlText]:
    name = expr.value
    bindings = summary.bindings.get(name)
    if bindings:
        result: list[UrlText] = []
        for binding in bindings:
            if binding.value is not None:
                result.extend(_texts(model, summary, binding.value, depth + 1, via or name))
            else:
                result.append(UrlText(COMPUTED, via))
        return result[:_MAX_TEXTS]
    symbol = model.symbol_of(summary, expr)
    if isinstance(symbol, ValueSym) and symbol.expr is not None:
        return _texts(model, symbol.summary, symbol.expr, depth + 1, via or name)
    return [UrlText(COMPUTED, via)]


def _call_texts(
    model: ProjectModel, summary: ModuleSummary, call: cst.Call, depth: int, via: str
) -> list[UrlText]:
    computed = [UrlText(COMPUTED, via)]
    func = call.func
    # "redis://{host}".format(...): the template, its fields stay placeholders.
    if isinstance(func, cst.Attribute) and func.attr.value == "format":
        return _texts(model, summary, func.value, depth + 1, via)
    dotted = dotted_name(func)
    qualname = model.qualname_of(summary, func)
    default: cst.BaseExpression | None = None
    getter: str | None = None
    if qualname in ENV_GETTERS or dotted in ("os.environ.get", "environ.get", "os.getenv", "getenv"):
        getter = dotted
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if len(positional) >= 2:
            default = positional[1].value
    elif dotted in KEYWORD_DEFAULT_GETTERS:
        getter = dotted
    if getter is None:
        return computed
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "default":
            default = arg.value
    if default is None:
        return computed
    return _texts(model, summary, default, depth + 1, f"the fallback of {getter}(...)")


def _product(left: list[UrlText], right: list[UrlText]) -> list[UrlText]:
    result = []
    for a in left:
        for b in right:
            # Name the constant the URL itself came through, not one that filled in a part.
            via = a.via if "://" in a.text else b.via if "://" in b.text else a.via or b.via
            result.append(UrlText(a.text + b.text, via))
            if len(result) >= _MAX_TEXTS:
                return result
    return result


def parse_urls(text: str) -> list[ParsedUrl]:
    """The URLs in a broker string (kombu accepts ``;``-separated failover lists)."""
    found = []
    for part in text.split(";"):
        match = _URL.match(part.strip())
        if match is None:
            continue
        net = _NETLOC.match(match.group("rest"))
        if net is None:  # pragma: no cover - the pattern matches any text
            continue
        userinfo = net.group("userinfo")
        user, password = "", None
        if userinfo is not None:
            user, colon, secret = userinfo.partition(":")
            password = secret if colon and secret else None
        hostport = net.group("hostport")
        if hostport.startswith("["):
            host = hostport[1 : hostport.find("]")] if "]" in hostport else hostport
        else:
            host = hostport.rsplit(":", 1)[0] if ":" in hostport else hostport
        tail = net.group("tail")
        query = tail.split("?", 1)[1] if "?" in tail else ""
        found.append(ParsedUrl(match.group("scheme").lower(), user, password, host, query))
    return found


RESERVED_SUFFIXES = (".invalid", ".example", ".test", ".example.com", ".example.net", ".example.org")
RESERVED_HOSTS = frozenset({"example.com", "example.net", "example.org"})


def placeholder_host(host: str) -> bool:
    """A host reserved for documentation (RFC 2606) or an obvious stand-in (``change-me``)."""
    host = host.strip().lower().rstrip(".")
    return (
        host in RESERVED_HOSTS
        or host.endswith(RESERVED_SUFFIXES)
        or "change-me" in host
        or "changeme" in host
        or PLACEHOLDER.match(host) is not None
    )


def literal_password(url: ParsedUrl) -> bool:
    """A password written in the source: not computed, not a placeholder, not RabbitMQ's
    public ``guest:guest`` default, not for a documentation host (``example.com``)."""
    password = url.password
    if not password or COMPUTED in password or placeholder_host(url.host):
        return False
    if PLACEHOLDER.match(password) or password.lower() in PLACEHOLDER_WORDS:
        return False
    return not (url.user == "guest" and password == "guest")
