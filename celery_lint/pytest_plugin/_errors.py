"""Errors the fixtures raise, and the hints they attach to Celery's own errors."""

from __future__ import annotations


class CeleryLintTestError(Exception):
    """Base class of the errors celery-lint's fixtures raise themselves."""


class ConfigurationError(CeleryLintTestError):
    """The fixtures cannot find or load the project's Celery app."""


class PublishedOutsideTestBroker(CeleryLintTestError):
    """A task was published to a broker other than the test's in-memory one."""


class PublishedInTransaction(CeleryLintTestError):
    """A task was published while the code had a database transaction open (CEL403)."""


class TaskLoopError(CeleryLintTestError):
    """Running the queue did not end: a task keeps sending itself or retrying at once."""


class RefusedMessageError(CeleryLintTestError):
    """A message a worker would refuse (content type outside ``accept_content``, undecodable)."""


class TaskNotRunError(CeleryLintTestError):
    """``result.get()`` on a task that is still waiting in ``celery_queue``."""


class FixtureUsageError(CeleryLintTestError):
    """Two fixtures that exclude each other, or a helper used the wrong way."""


class CeleryLintDeprecationWarning(DeprecationWarning):
    """A spelling of the plugin that still works in this release and will not in the next."""


def add_hint(exc: BaseException, hint: str) -> BaseException:
    """Attach ``hint`` to ``exc`` (as a note, shown under the error by pytest), once."""
    notes = getattr(exc, "__notes__", None) or []
    if hint in notes:
        return exc
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:  # Python 3.11+
        add_note(hint)
    elif exc.args and isinstance(exc.args[0], str) and hint not in exc.args[0]:
        exc.args = (f"{exc.args[0]}\n{hint}", *exc.args[1:])
    return exc


def argument_hint(task_name: str, serializer: str) -> str:
    return (
        f"celery-lint: the arguments of '{task_name}' cannot be sent with the '{serializer}' "
        "serializer; a worker never receives this message. Pass ids and plain data, not "
        "objects (CEL504 object-as-task-argument)."
    )


def result_hint(task_name: str, serializer: str) -> str:
    return (
        f"celery-lint: '{task_name}' returned a value the '{serializer}' result serializer "
        "cannot encode; on a worker the task is stored as FAILURE and result.get() raises "
        "this error. Return plain data (ids, strings, numbers, lists, dicts); switching "
        "serializers to pickle is CEL101 unsafe-serializer."
    )
