"""The differential test's bigger run: celery-lint against the real Celery on many projects.

    python bench/differential.py --projects 500 --seed 1

Generates ``--projects`` small projects (tests/differential_projects.py) from seeds
derived from ``--seed``, runs ``celery-lint tasks --format json`` once over them and the
real Celery (and Django) on each, and prints the number of projects, options compared,
unknown values, disagreements, the share of known values and the time. Disagreements
are printed with their project (the first ``--show``); the exit status is 1 when there
is any.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from differential_projects import compare_round


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=250, help="projects per celery-lint run")
    parser.add_argument("--show", type=int, default=3, help="disagreements printed in full")
    args = parser.parse_args(argv)
    # Seeds of their own, far from the suite's 0..79.
    seeds = random.Random(args.seed).sample(range(1_000, 100_000_000), args.projects)
    total = None
    for start in range(0, len(seeds), args.batch):
        with tempfile.TemporaryDirectory(prefix="celery-lint-differential-") as tmp:
            report = compare_round(Path(tmp), seeds[start : start + args.batch])
        if total is None:
            total = report
            continue
        total.projects += report.projects
        total.tasks += report.tasks
        total.compared += report.compared
        total.unknown += report.unknown
        total.disagreements += report.disagreements
        total.seconds += report.seconds
        for reason, count in report.unknown_reasons.items():
            total.unknown_reasons[reason] = total.unknown_reasons.get(reason, 0) + count
            total.unknown_seed.setdefault(reason, report.unknown_seed[reason])
    assert total is not None
    print(f"projects:      {total.projects}")
    print(f"tasks:         {total.tasks}")
    print(f"options:       {total.compared + total.unknown}")
    print(f"compared:      {total.compared}")
    print(f"unknown:       {total.unknown}")
    print(f"disagreements: {len(total.disagreements)}")
    print(f"share known:   {total.share_known:.4f}")
    print(f"time:          {total.seconds:.1f} s")
    if total.unknown_reasons:
        print("unknown values by reason:")
        print("\n".join(total.unknown_lines()))
    for disagreement in total.disagreements[: args.show]:
        print("=" * 70)
        print(disagreement)
    return 1 if total.disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
