from __future__ import annotations

from ..base import Invalid, Rule, Valid


class UnusedSuppression(Rule):
    """
    ## What it does
    Checks for `# noqa: CELxxx` comments that suppress nothing: no finding of that code
    on that line (or logical line), or a code that names no celery-lint rule. Codes of
    rules that are not selected in the run are left alone, since they could suppress
    something when those rules run.

    ## Why is this bad?
    A stale suppression hides the next real finding on that line, and a misspelled code
    (`# noqa: CEL2O1`) suppresses nothing while looking as if it did.

    ## Example
    ```python
    @shared_task(time_limit=60)  # noqa: CEL201
    def f(): ...
    ```

    ## Use instead
    ```python
    @shared_task(time_limit=60)
    def f(): ...
    ```
    """

    CODE = "CEL901"
    NAME = "unused-suppression"
    MESSAGE = "`# noqa: {code}` {problem}"
    FIX_TITLE = "remove it"
    DEFAULT = False
    TRIGGERS = (b"noqa",)
    CASE_SELECT = ("CEL",)

    VALID = [
        Valid("from celery import shared_task\n\n@shared_task\ndef f():  # noqa: CEL201, CEL205\n    pass\n"),
        Valid(
            "from celery import shared_task\n\n@shared_task(time_limit=60, soft_time_limit=50, acks_late=True, ignore_result=True)\ndef f():  # noqa: E501\n    pass\n",
            note="other tools' codes",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import shared_task\n\n@shared_task(time_limit=60, soft_time_limit=50, acks_late=True)\ndef f():  # noqa: CEL201\n    pass\n",
            line=4,
            column=11,
            message_contains="suppresses nothing",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f():  # noqa: CEL201, CEL205, CEL999\n    pass\n",
            line=4,
            column=11,
            message_contains="no celery-lint rule",
        ),
    ]
