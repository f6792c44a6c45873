"""pluggy hook specifications for celery-lint rule packs (project name ``celery_lint``).

A rule pack is a module (or installed package) that implements some of these hooks with
the :data:`hookimpl` marker. celery-lint finds packs through the ``celery_lint``
entry-point group and through ``plugins = ["module"]`` in ``[tool.celery-lint]``. The
built-in rules are registered through the same hooks, so pack rules run everywhere the
built-in ones do: the CLI, flake8, pre-commit and the pytest lint gate.

Example::

    # acme_rules.py
    from celery_lint import hookimpl

    @hookimpl
    def celery_lint_rules():
        from acme_rules_impl import PaymentsQueueRule
        return [PaymentsQueueRule]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

from .version import PROJECT_NAME

if TYPE_CHECKING:
    from .rules.base import Rule, RuleOption


hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def celery_lint_rules() -> list[type[Rule]]:  # type: ignore[empty-body]
    """Return the rule classes this pack provides.

    Each class follows the same contract as a built-in rule (see ``docs/rule-packs.md``):
    a unique code of one to three capital letters and three digits (flake8 accepts it
    as a plugin code), a kebab-case name, a message, a docstring with the sections
    *What it does*, *Why is this bad?*, *Example* and *Use instead*, and at least one
    ``VALID`` and one ``INVALID`` case. A pack that breaks the contract is refused as a
    whole, with an error naming it; the other packs and the built-in rules still run.
    """


@hookspec
def celery_lint_extension_settings() -> list[str]:  # type: ignore[empty-body]
    """Return configuration keys that belong to a Celery extension this pack knows.

    CEL601 (unknown-setting) does not report these keys. Names are compared exactly; a
    trailing ``*`` makes a prefix (``"redbeat_*"``).
    """


@hookspec
def celery_lint_options() -> list[RuleOption]:  # type: ignore[empty-body]
    """Return extra options the pack's rules read from ``[tool.celery-lint]``.

    Each :class:`~celery_lint.rules.base.RuleOption` names a key, its type and default;
    ``[tool.celery-lint]`` validates values against it like the built-in options, and a
    rule reads the value with ``self.context.options[name]``.
    """
