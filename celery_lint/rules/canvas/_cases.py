"""Small projects shared by the beat, route and queue rules' cases."""

from __future__ import annotations

DJANGO_CELERY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
    "app.autodiscover_tasks()\n"
)
PLAIN_CELERY = "from celery import Celery\napp = Celery('proj')\n"
CELERYCONFIG_APP = "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"

ADD_TASK = "from celery import shared_task\n\n\n@shared_task\ndef add(x, y):\n    return x + y\n"
"""proj/tasks.py: the task ``proj.tasks.add``."""


def project(**files: str) -> dict[str, str]:
    """proj/__init__.py and proj/tasks.py (``add``) plus ``files``."""
    base = {"proj/__init__.py": "", "proj/tasks.py": ADD_TASK}
    base.update(files)
    return base
