"""Rules about task code look into the project functions a task calls (issue #17), seen from
the command line: the finding is at the task's call, names the cause's place and the way
there, and is suppressed, cached and parallelised like any other finding."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project, run_cli

TASKS = """\
from celery import shared_task

from shop import stats
from shop.stats import Counter, bump


@shared_task
def count(order):
    bump(order)


@shared_task
def count_again(order):
    stats.bump(order)  # noqa: CEL401
    stats.bump(order)


@shared_task
def tally(order):
    Counter().add(order)
    counter = Counter()
    counter.record(order)


@shared_task
def export(qs):
    return stats.rows(qs)


@shared_task
def export_kept(qs):
    rows = stats.rows(qs)
    return rows
"""

STATS = """\
import time


def bump(order):
    save_views(order)


def save_views(order):
    order.views += 1
    order.save()


class Counter:
    def add(self, order):
        self.record(order)

    def record(self, order):
        order.total += 2
        time.sleep(1)


def rows(qs):
    return list(qs.objects.all())
"""

SELECT = ("--select", "CEL401,CEL402,CEL404,CEL502")


def shop(project: Project) -> Project:
    project.write("shop/__init__.py", "")
    project.write("shop/stats.py", STATS)
    project.write("shop/tasks.py", TASKS)
    return project


def test_findings_in_helpers_are_reported_at_the_task_call(project: Project) -> None:
    run = shop(project).run(*SELECT, ".")
    assert run.at("shop/tasks.py") == [
        (9, 5, "CEL401"),
        (15, 5, "CEL401"),  # line 14, the same call, is suppressed by its noqa comment
        (20, 5, "CEL401"),
        (20, 5, "CEL404"),
        (22, 5, "CEL401"),
        (22, 5, "CEL404"),
        (27, 5, "CEL502"),  # `rows = stats.rows(qs); return rows` is not followed
    ], run
    assert run.at("shop/stats.py") == [], run
    text = run.stdout
    assert (
        "relative update `order.views` in shop/stats.py:9, called from task 'shop.tasks.count' "
        "via bump() -> save_views(): a redelivered" in text
    ), run
    assert (
        "in shop/stats.py:18, called from task 'shop.tasks.tally' via Counter.add() -> Counter.record()"
        in text
    )
    assert (
        "`time.sleep(1)` in shop/stats.py:19, called from task 'shop.tasks.tally' via Counter.record()"
        in text
    )
    assert (
        "task 'shop.tasks.export' returns a whole query result (`list(...)`) from shop/stats.py:23 via rows()"
        in text
    ), run


def test_a_helper_with_several_causes_gives_one_finding_a_call(project: Project) -> None:
    project.write("shop/__init__.py", "")
    project.write(
        "shop/stats.py",
        "def bump(order):\n    order.views += 1\n    order.clicks += 1\n    order.save()\n",
    )
    project.write(
        "shop/tasks.py",
        "from celery import shared_task\n\nfrom shop.stats import bump\n\n\n"
        "@shared_task\ndef a(order):\n    bump(order)\n\n\n@shared_task\ndef b(order):\n    bump(order)\n",
    )
    run = project.run("--select", "CEL401", ".")
    assert run.at("shop/tasks.py") == [(8, 5, "CEL401"), (13, 5, "CEL401")], run
    assert "in shop/stats.py:2 (and 1 more), called from task 'shop.tasks.a' via bump()" in run.stdout


def test_depth_cycles_and_what_is_not_followed(project: Project) -> None:
    project.write("shop/__init__.py", "")
    project.write(
        "shop/deep.py",
        "def one(o):\n    two(o)\n\n\ndef two(o):\n    three(o)\n\n\ndef three(o):\n    four(o)\n\n\n"
        "def four(o):\n    o.views += 1\n\n\n"
        "def ping(o):\n    pong(o)\n\n\ndef pong(o):\n    ping(o)\n\n\n"
        "def later(o):\n    def inner():\n        o.views += 1\n    return inner\n\n\n"
        "async def coro(o):\n    o.views += 1\n\n\n"
        "def cached(function):\n    return function\n\n\n@cached\ndef wrapped(o):\n    o.views += 1\n",
    )
    project.write("tests/__init__.py", "")
    project.write("tests/helpers.py", "def bump(o):\n    o.views += 1\n")
    project.write(
        "shop/tasks.py",
        "from concurrent.futures import ThreadPoolExecutor\n\nfrom celery import shared_task\n"
        "from json import dumps\n\nfrom shop import deep\nfrom tests.helpers import bump\n\n\n"
        "@shared_task\ndef f(o, callback):\n"
        "    deep.one(o)\n"  # four() is four calls away: past the depth followed
        "    deep.ping(o)\n"
        "    deep.later(o)\n"
        "    deep.coro(o)\n"
        "    deep.wrapped(o)\n"
        "    bump(o)\n"  # test code
        "    dumps(o)\n"  # installed
        "    callback(o)\n"  # unknown
        "    with ThreadPoolExecutor() as pool:\n"
        "        pool.map(deep.four, [o])\n",  # passed along, not called
    )
    run = project.run("--select", "CEL401", ".")
    assert run.findings == [], run


def test_blocking_wait_in_a_helper_respects_allow_join_result_in_the_task(project: Project) -> None:
    project.write("shop/__init__.py", "")
    project.write(
        "shop/waiting.py",
        "from shop.tasks import add\n\n\ndef total(x):\n    return add.delay(x, 1).get()\n",
    )
    project.write(
        "shop/tasks.py",
        "from celery import shared_task\nfrom celery.result import allow_join_result\n\n\n"
        "@shared_task\ndef add(x, y):\n    return x + y\n\n\n"
        "@shared_task\ndef waits(x):\n    from shop.waiting import total\n\n    return total(x)\n\n\n"
        "@shared_task\ndef allowed(x):\n    from shop.waiting import total\n\n"
        "    with allow_join_result():\n        return total(x)\n",
    )
    run = project.run("--select", "CEL402", ".")
    # Imported inside the task (Django code avoids import cycles so): followed all the same.
    assert run.at("shop/tasks.py") == [(14, 12, "CEL402")], run
    project.write(
        "shop/tasks.py",
        "from celery import shared_task\nfrom celery.result import allow_join_result\n\n"
        "from shop import waiting\n\n\n"
        "@shared_task\ndef add(x, y):\n    return x + y\n\n\n"
        "@shared_task\ndef waits(x):\n    return waiting.total(x)\n\n\n"
        "@shared_task\ndef allowed(x):\n    with allow_join_result():\n        return waiting.total(x)\n",
    )
    run = project.run("--select", "CEL402", ".")
    assert run.at("shop/tasks.py") == [(14, 12, "CEL402")], run
    assert (
        "`add.delay(x, 1).get()` in shop/waiting.py:5, called from task 'shop.tasks.waits' via total()"
        in run.stdout
    ), run


def test_single_file_run_and_jobs_give_the_same_findings(project: Project) -> None:
    shop(project)
    for i in range(6):
        project.write(f"shop/more{i}.py", "from celery import shared_task\n")
    whole = project.run("--no-cache", *SELECT, ".")
    assert len(whole.findings) == 7, whole
    one = project.run("--no-cache", *SELECT, "shop/tasks.py")
    assert one.at("shop/tasks.py") == whole.at("shop/tasks.py"), one
    parallel = project.run("--no-cache", "-j", "2", *SELECT, ".")
    assert parallel.stdout == whole.stdout, parallel


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_cache_follows_a_change_in_the_helper_file(project: Project, tmp_path: Path, jobs: str) -> None:
    shop(project)
    for i in range(6):
        project.write(f"shop/more{i}.py", "from celery import shared_task\n")
    args = ("--cache-dir", str(tmp_path / "cache"), "-j", jobs, *SELECT, ".")
    first = project.run(*args)
    assert (9, 5, "CEL401") in first.at("shop/tasks.py"), first
    stats = project.root / "shop/stats.py"
    stats.write_text(STATS.replace("order.views += 1", "order.views = order.computed_views"), "utf-8")
    after = project.run(*args)
    assert (9, 5, "CEL401") not in after.at("shop/tasks.py"), after
    assert after.stdout == run_cli("--no-cache", *SELECT, ".", cwd=project.root).stdout
    stats.write_text(STATS, "utf-8")
    again = project.run(*args)
    assert again.stdout == first.stdout, again


def test_flake8_reports_them_at_the_task_call_too(project: Project) -> None:
    from test_flake8_plugin import cli_findings, flake8

    shop(project)
    run = flake8(
        "--select",
        "CEL401,CEL402,CEL404,CEL502",
        "--enable-extensions",
        "CEL404",
        "shop/tasks.py",
        cwd=project.root,
    )
    assert run.findings == cli_findings(project.root, *SELECT, "shop/tasks.py"), run
    assert {(line, code) for _, line, _, code, _ in run.findings} >= {(9, "CEL401"), (20, "CEL404")}, run
