"""The project holds itself to what it asks of others: fresh docs, lint- and type-clean code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from celery_lint.docs import main as docs_main
from celery_lint.docs import render_readme

ROOT = Path(__file__).resolve().parent.parent


def test_readme_rule_table_is_fresh() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert render_readme(readme) == readme, "run: python -m celery_lint.docs --write"


def test_generated_docs_are_fresh() -> None:
    """Every rule page, the rule index and the options table match the rule classes."""
    assert docs_main(["--root", str(ROOT)]) == 0, "run: python -m celery_lint.docs --write"


def test_every_rule_has_a_page() -> None:
    from celery_lint.docs import all_rules

    pages = {p.stem for p in (ROOT / "docs" / "rules").glob("CEL*.md")}
    assert pages == {rule.CODE for rule in all_rules()}


@pytest.mark.slow
def test_ruff_is_clean_on_the_package_and_its_tests() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "celery_lint", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict_is_clean_on_the_package(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "mypy")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_celery_lint_is_clean_on_its_own_code() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "celery_lint", "--no-cache", "celery_lint"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_the_license_pyproject_names_is_there() -> None:
    from importlib.metadata import metadata

    text = (ROOT / "LICENSE").read_text("utf-8")
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 celery-lint developers" in text
    installed = metadata("celery-lint")
    assert installed["License-Expression"] == "MIT"
    assert installed.get_all("License-File") == ["LICENSE"]
