from __future__ import annotations

from ...project.broker_urls import literal_password, parse_urls
from ...project.configuration import meant_setting
from ..base import Invalid, Rule, Valid

URL_SETTINGS = frozenset({"broker_url", "broker_read_url", "broker_write_url", "result_backend"})

DJANGO_CELERY_PY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)


class HardcodedBrokerCredentials(Rule):
    """
    ## What it does
    Checks for broker and result-backend URLs (`broker_url`, `broker_read_url`,
    `broker_write_url`, `result_backend`, `Celery(broker=..., backend=...)`, and their
    old and Django names) whose password is written in the source: a string literal,
    an f-string or concatenation with a literal password, a module constant, or the
    fallback of `os.environ.get(...)` / `os.getenv(...)` (positional or `default=`),
    django-environ's `env(..., default=...)` and decouple's `config(..., default=...)`.

    Placeholders (`${REDIS_PASSWORD}`, `<password>`, `{password}`, `%(password)s`,
    words such as `password` or `changeme`), passwords taken from the environment,
    RabbitMQ's public `guest:guest` default, and URLs to documentation hosts
    (`example.com`, `*.invalid`, `*.test`) are not reported.

    ## Why is this bad?
    A password in the repository reaches everyone who can read it, every fork and
    every CI log, and it cannot be rotated without a commit. Whoever has the broker
    password can read, delete or inject task messages. A literal fallback is the same
    leak: it is in the source, and it is what runs when the variable is missing.

    ## Example
    ```python
    app.conf.broker_url = os.environ.get("BROKER_URL", "amqp://orders:s3cret@mq.acme.io//")
    ```

    ## Use instead
    ```python
    app.conf.broker_url = os.environ["BROKER_URL"]
    ```

    ## References
    - Celery, *Configuration*: `broker_url`, `result_backend`
    - OWASP, *Use of hard-coded password* (CWE-259)
    """

    CODE = "CEL104"
    NAME = "hardcoded-broker-credentials"
    MESSAGE = "`{key}` has the password of `{url}` written in the source{via}: anyone who reads the code has the broker"
    FIX_TITLE = "read the whole URL from the environment with no literal fallback"
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            "import os\nfrom celery import Celery\napp = Celery('proj', broker=os.environ['BROKER_URL'])\n",
            note="env-only URL",
        ),
        Valid(
            "import os\nfrom celery import Celery\napp = Celery('proj')\napp.conf.broker_url = os.environ.get('BROKER_URL')\n",
            note="environment lookup without a fallback",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.broker_url = 'redis://:${REDIS_PASSWORD}@redis.acme.io:6379/0'\n",
            note="placeholder ${...}",
        ),
        Valid(
            "broker_url = 'amqp://orders:<password>@mq.acme.io:5672//'\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"
            },
            note="placeholder <password>",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', broker='redis://redis.acme.io:6379/0', backend='redis://localhost:6379/1')\n",
            note="passwordless URLs",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', broker='amqp://orders:s3cret@mq.example.com//')\n",
            note="a documentation host (RFC 2606): a sample, not a credential",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', broker='amqp://orders@mq.acme.io//')\n",
            note="a user without a password",
        ),
        Valid(
            "import os\nfrom celery import Celery\napp = Celery('proj')\n"
            "app.conf.broker_url = f\"redis://:{os.environ['REDIS_PASSWORD']}@redis.acme.io:6379/0\"\n",
            note="password from the environment in an f-string",
        ),
        Valid(
            "import os\nfrom celery import Celery\napp = Celery('proj')\n"
            "app.conf.broker_url = 'amqp://{user}:{password}@{host}//'.format(**os.environ)\n",
            note="format placeholders",
        ),
        Valid(
            "import os\nCELERY_BROKER_URL = os.environ.get('CELERY_BROKER_URL', 'amqp://guest:guest@localhost:5672//')\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="RabbitMQ's public guest:guest default",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.broker_url = 'redis://:hunter2@redis.acme.io:6379/0'\n",
            path="tests/test_celery.py",
            note="test code",
        ),
        Valid(
            "DATABASE_URL = 'postgres://shop:hunter2@db.acme.io/shop'\nCELERY_TASK_ACKS_LATE = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="not a broker or result-backend setting",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import Celery\napp = Celery('proj', broker='amqp://orders:s3cret@mq.acme.io:5672//')\n",
            line=2,
            column=22,
            message_contains="amqp://orders:***@mq.acme.io",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', backend='redis://:hunter2@cache.acme.io:6379/1')\n",
            line=2,
            column=22,
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(\n    result_backend='redis://:hunter2@cache.acme.io:6379/1',\n)\n",
            line=4,
            column=5,
        ),
        Invalid(
            "import os\nfrom celery import Celery\napp = Celery('proj')\n"
            "app.conf.broker_url = os.environ.get('BROKER_URL', 'redis://:hunter2@localhost:6379/0')\n",
            line=4,
            column=1,
            message_contains="fallback of os.environ.get",
            note="positional fallback of os.environ.get",
        ),
        Invalid(
            "import os\nfrom celery import Celery\napp = Celery('proj')\n"
            "app.conf['broker_url'] = os.getenv('BROKER_URL', default='amqp://app:pw1234@mq.acme.io//')\n",
            line=4,
            column=1,
            note="keyword fallback of os.getenv",
        ),
        Invalid(
            "from os import environ\nfrom celery import Celery\napp = Celery('proj')\n"
            "app.conf.broker_url = environ.get('BROKER_URL', 'amqp://app:pw1234@mq.acme.io//')\n",
            line=4,
            column=1,
            note="environ.get imported from os",
        ),
        Invalid(
            "CELERY_BROKER_URL = 'amqp://shop:Tr0ub4dor@mq.acme.io:5672/shop'\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=1,
            column=1,
            note="Django settings with the CELERY namespace",
        ),
        Invalid(
            "REDIS_URL = 'redis://:hunter2@redis.acme.io:6379'\nCELERY_RESULT_BACKEND = REDIS_URL + '/1'\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=2,
            column=1,
            message_contains="REDIS_URL",
            note="through a module constant",
        ),
        Invalid(
            "broker_url = 'amqp://orders:s3cret@mq.acme.io:5672//'\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"
            },
            line=1,
            column=1,
            note="config module",
        ),
        Invalid(
            "from celery import Celery\n\nclass Config:\n    CELERY_RESULT_BACKEND = 'db+postgresql://celery:pw1234@db.acme.io/results'\n\n"
            "app = Celery('proj')\napp.config_from_object(Config)\n",
            line=4,
            column=5,
            note="old name in a configuration class",
        ),
        Invalid(
            "import os\nfrom celery import Celery\nHOST = os.environ['REDIS_HOST']\napp = Celery('proj')\n"
            "app.conf.broker_url = f'redis://:hunter2@{HOST}:6379/0'\n",
            line=5,
            column=1,
            note="literal password, computed host",
        ),
        Invalid(
            "BROKER_URL = 'amqp://shop:Tr0ub4dor@mq.acme.io:5672/shop'\n",
            path="proj/settings.py",
            files={
                "proj/celery.py": DJANGO_CELERY_PY.replace(", namespace='CELERY'", ""),
            },
            line=1,
            column=1,
            note="Django settings without a namespace, old name",
        ),
        Invalid(
            "import environ\nenv = environ.Env()\nCELERY_BROKER_URL = env('CELERY_BROKER_URL', default='redis://:hunter2@redis.acme.io:6379/0')\n",
            path="config/settings/base.py",
            line=3,
            column=1,
            note="django-environ fallback in a settings module no app is tied to",
        ),
    ]

    def check(self) -> None:
        view = self.project
        index = view.configuration()
        for write in index.writes_in(self.context.summary):
            if write.value is None or meant_setting(index, write) not in URL_SETTINGS:
                continue
            for text in view.url_texts(write):
                leaked = [url for url in parse_urls(text.text) if literal_password(url)]
                if leaked:
                    via = ""
                    if text.via.startswith("the fallback"):
                        via = f" (in {text.via})"
                    elif text.via:
                        via = f" (through `{text.via}`)"
                    self.report(
                        write.node,
                        self.message(key=write.key, url=leaked[0].redacted(), via=via),
                    )
                    break
