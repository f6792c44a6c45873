from __future__ import annotations

from ..base import Invalid, Rule, Valid


class UnparsableFile(Rule):
    """
    ## What it does
    Reports a file that cannot be read, decoded or parsed. The engine reports it once
    per file and goes on with the other files. It is reported whatever `select` says
    (a file no rule could check must not pass as a clean one); `ignore`,
    `per-file-ignores` and `# noqa: CEL900` still turn it off.

    ## Why is this bad?
    A file celery-lint cannot read is a file it cannot check: its tasks and settings
    are missing from the project model, so findings elsewhere may change too.

    ## Example
    ```python
    @shared_task
    def f(:
        pass
    ```

    ## Use instead
    ```python
    @shared_task
    def f():
        pass
    ```
    """

    CODE = "CEL900"
    NAME = "unparsable-file"
    MESSAGE = "file cannot be analysed: {error}"

    VALID = [Valid("from celery import shared_task\n")]
    INVALID = [
        Invalid("from celery import shared_task\n\n@shared_task\ndef f(:\n    pass\n", line=4, column=7),
        Invalid(
            "# celery task\nx = 'caf\xe9'\n",
            encoding="latin-1",
            line=1,
            column=1,
            note="undecodable: latin-1 bytes without a coding cookie",
        ),
    ]
