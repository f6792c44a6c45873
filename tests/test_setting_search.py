"""The search for a setting named anywhere in the repository tokenizes only the files whose
bytes hold a spelling of the setting as a whole word (:func:`spelling_pattern`): a file
skipped on that answer must be one whose words do not name the setting."""

from __future__ import annotations

from pathlib import Path

from test_cache_differential import UTF7_SOURCE, _names_setting

from celery_lint.project.setting_search import code_tokens, spelling_pattern, spells_words_as_ascii
from celery_lint.settings_catalogue import load_catalogue

EDGES = (
    b"BROKER = 'CELERY_BROKER_URL'\n",  # an upper-case word ending in the name
    b"NAME = '9imports'\n",  # a word of a string that follows a digit
    b"\xc3\xa9include = 1\n",  # a word after a non-ASCII letter of an identifier
    b"value = reimports + includes + INCLUDED + broker_urls\n",  # longer words only
    b"value = a9imports\n",  # a digit inside a word: a match for nothing
    b"# includes the reimports of old_broker_urls\nx = 1\n",  # longer words in a comment
    b"CELERY_IMPORTS = ('a',)\nCELERY_INCLUDE = []\n",
)


def test_a_file_skipped_before_tokenizing_never_names_the_setting() -> None:
    catalogue = load_catalogue()
    names = sorted(set(catalogue.defaults))
    sources = [p.read_bytes() for p in sorted((Path(__file__).parent.parent / "fixtures").rglob("*.py"))]
    sources += [*EDGES, UTF7_SOURCE]
    skipped = 0
    for data in sources:
        tokens = code_tokens(data)
        for name in names:
            old = catalogue.new_to_old.get(name)
            if not spelling_pattern(name, old).search(data) and spells_words_as_ascii(data):
                assert not _names_setting(tokens, name, old), (name, data[:80])
                skipped += 1
    assert skipped > 1000


def test_a_spelling_inside_a_longer_word_is_skipped() -> None:
    for data in EDGES[3], EDGES[5]:
        for name in ("include", "imports", "broker_url"):
            if name.encode() in data:
                assert not spelling_pattern(name, None).search(data), (name, data)
    # A whole word in a comment is tokenized for nothing: the pattern does not tell comments.
    assert spelling_pattern("include", None).search(b"# include it\n")
    assert spelling_pattern("broker_url", "BROKER_URL").search(EDGES[0])
    assert spelling_pattern("imports", "CELERY_IMPORTS").search(EDGES[1])
    assert spelling_pattern("include", "CELERY_INCLUDE").search(EDGES[2])
