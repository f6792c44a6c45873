"""The small project CEL802's and CEL803's cases call into (real Celery runs it too)."""

from __future__ import annotations

TASKS = (
    "from celery import shared_task\n\n\n"
    "@shared_task\n"
    "def add(x, y):\n    return x + y\n\n\n"
    "@shared_task\n"
    "def send_welcome(user_id, *, lang='en'):\n    return user_id\n\n\n"
    "@shared_task(bind=True)\n"
    "def refresh(self, account_id):\n    return account_id\n\n\n"
    "@shared_task\n"
    "def anything(*args, **kwargs):\n    return len(args)\n\n\n"
    "@shared_task\n"
    "def total(numbers):\n    return sum(numbers)\n\n\n"
    "@shared_task(name='proj.billing.charge')\n"
    "def charge(order_id):\n    return order_id\n"
)
"""proj/tasks.py: ``add``, ``send_welcome``, ``refresh`` (bound), ``anything``, ``total``
and ``charge``, which is named ``proj.billing.charge``."""

CALLER_HEAD = "from celery import chain, chord, group, signature\n\nfrom proj.tasks import add, anything, refresh, send_welcome, total\n\n\n"
"""The imports of proj/views.py, where the cases call the tasks."""


REEXPORTED_SIGNATURE = {"proj/canvas.py": "from celery import signature\n\n__all__ = ['signature']\n"}
"""proj/canvas.py: Celery's ``signature`` re-exported, so that a caller importing it from
there never mentions Celery (the prefilter lets it through on ``signature(`` as a whole name)."""

NO_CELERY_HEAD = "from proj.canvas import signature\n\n\n"
"""The imports of a proj/views.py that never mentions Celery."""


def calls_project(**files: str) -> dict[str, str]:
    """An app in proj/celery.py that the package imports, the tasks, and ``files``."""
    base = {
        "proj/__init__.py": "from .celery import app\n",
        "proj/celery.py": "from celery import Celery\n\napp = Celery('proj')\napp.autodiscover_tasks(['proj'])\n",
        "proj/billing.py": "RATES = {'eur': 1}\n",
        "proj/tasks.py": TASKS,
    }
    base.update(files)
    return base
