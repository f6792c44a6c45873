"""The prefilter's many-literal search finds exactly what a plain alternation finds."""

from __future__ import annotations

import random
import re

from celery_lint.project.literals import literal_alternation


def _plain(literals: set[bytes]) -> bytes:
    return b"|".join(re.escape(lit) for lit in literals) if literals else rb"(?!)"


def test_factored_alternation_matches_like_a_plain_one() -> None:
    rnd = random.Random(16)
    for _ in range(1500):
        literals = {
            bytes(rnd.choice(b"ab.(c") for _ in range(rnd.randint(0, 4))) for _ in range(rnd.randint(0, 6))
        }
        factored = literal_alternation(literals)
        plain = _plain(literals)
        # Embedded, as the call-site search uses it: a name, then ``.method(``.
        embedded = (re.compile(rb"\b(?:" + factored + rb")\s*\."), re.compile(rb"\b(?:" + plain + rb")\s*\."))
        for _ in range(15):
            text = bytes(rnd.choice(b"ab.(c x") for _ in range(rnd.randint(0, 12)))
            assert (re.search(factored, text) is None) == (re.search(plain, text) is None), (literals, text)
            assert (re.fullmatch(factored, text) is None) == (re.fullmatch(plain, text) is None), (
                literals,
                text,
            )
            assert (embedded[0].search(text) is None) == (embedded[1].search(text) is None), (literals, text)


def test_a_call_among_hundreds_of_task_names_is_found() -> None:
    names = [f"task_number_{i}.delay(".encode() for i in range(400)]
    text = b"x = 1\n" * 20_000 + b"task_number_399.delay(1)\n"
    pattern = re.compile(literal_alternation(names))
    assert pattern.search(text) is not None
    assert pattern.search(text.replace(b"task_number_399", b"other")) is None
