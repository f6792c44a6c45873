from __future__ import annotations

import ipaddress

from ...project.broker_urls import COMPUTED, ParsedUrl, parse_urls, placeholder_host
from ...project.configuration import ConfigIndex, meant_setting, visible_setting
from ...project.model import ConfigWrite
from ...project.values import Known
from ..base import Invalid, Rule, Valid

# Setting -> the setting that turns TLS on for it.
TLS_SETTING = {
    "broker_url": "broker_use_ssl",
    "broker_read_url": "broker_use_ssl",
    "broker_write_url": "broker_use_ssl",
    "result_backend": "redis_backend_use_ssl",
}
PLAINTEXT_SCHEMES = {
    "broker_url": frozenset({"redis", "amqp", "pyamqp", "librabbitmq"}),
    "result_backend": frozenset({"redis"}),
}
LOCAL_NAMES = frozenset({"localhost", "host.docker.internal", "0.0.0.0"})

DJANGO_CELERY_PY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)


def is_local_host(host: str) -> bool:
    """Loopback, a bare name such as a container service (``redis``, ``rabbitmq``), or a
    documentation stand-in (``change-me.invalid``, ``example.com``)."""
    host = host.strip().lower().rstrip(".")
    if not host or COMPUTED in host:
        return True  # unknown or default (kombu's default is localhost)
    if host in LOCAL_NAMES or host.endswith(".localhost") or placeholder_host(host):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    return "." not in host


def _uses_tls(url: ParsedUrl) -> bool:
    return "ssl" in url.query.lower() or "tls" in url.query.lower()


class PlaintextRemoteBroker(Rule):
    """
    ## What it does
    Checks for literal `redis://` or `amqp://` broker URLs (and `redis://` result
    backends) that point at a remote host while TLS is off: no `rediss://` / `amqps://`
    scheme, no `ssl` option in the URL, and `broker_use_ssl` (`redis_backend_use_ssl`
    for the result backend) not set in the same configuration. The fallback of
    `os.environ.get(...)` counts, as in CEL104.

    Loopback hosts (`localhost`, `127.0.0.1`, `::1`), names without a dot (container
    service names such as `redis` or `rabbitmq`), `host.docker.internal`, and stand-in
    hosts (`example.com`, `*.invalid`, `*.test`, `change-me`) are not reported, and
    neither is a URL whose query turns TLS on (`?ssl_cert_reqs=...`).

    ## Why is this bad?
    Without TLS every task message, its arguments and its result travel in clear text,
    together with the broker password, through every network hop to the remote host.

    ## Example
    ```python
    app.conf.broker_url = "amqp://orders@mq.acme.io:5672//"
    ```

    ## Use instead
    ```python
    app.conf.broker_url = "amqps://orders@mq.acme.io:5671//"
    ```

    ## References
    - Celery, *Configuration*: `broker_use_ssl`, `redis_backend_use_ssl`
    """

    CODE = "CEL105"
    NAME = "plaintext-remote-broker"
    MESSAGE = "`{key}` connects to `{url}` without TLS{via}: messages and credentials cross the network in clear text"
    FIX_TITLE = "use `{secure}://` or set `{tls}`"
    DEFAULT = False
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            "from celery import Celery\napp = Celery('proj', broker='redis://localhost:6379/0')\n",
            note="localhost",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', broker='amqp://guest@127.0.0.1//')\n",
            note="loopback",
        ),
        Valid(
            "import os\nfrom celery import Celery\napp = Celery('proj')\n"
            "app.conf.broker_url = os.environ.get('BROKER_URL', 'redis://change-me.invalid:6379/1')\n",
            note="a documentation stand-in host",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', broker='redis://[::1]:6379/0')\n",
            note="IPv6 loopback",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', broker='redis://redis:6379/0', backend='redis://redis:6379/1')\n",
            note="container service name without dots",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', broker='rediss://cache.acme.io:6380/0?ssl_cert_reqs=required')\n",
            note="TLS scheme",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', broker='amqps://mq.acme.io:5671//')\n",
            note="amqps",
        ),
        Valid(
            "import ssl\nfrom celery import Celery\napp = Celery('proj', broker='amqp://mq.acme.io:5671//')\n"
            "app.conf.broker_use_ssl = {'cert_reqs': ssl.CERT_REQUIRED}\n",
            note="broker_use_ssl set",
        ),
        Valid(
            "CELERY_BROKER_URL = 'amqp://mq.acme.io:5671//'\nCELERY_BROKER_USE_SSL = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="broker_use_ssl in Django settings",
        ),
        Valid(
            "import os\nfrom celery import Celery\napp = Celery('proj', broker=os.environ['BROKER_URL'])\n",
            note="host from the environment",
        ),
        Valid(
            "import os\nfrom celery import Celery\napp = Celery('proj', broker=os.environ['BROKER_URL'])\n"
            "app.conf.broker_use_ssl = os.environ.get('BROKER_TLS')\n",
            note="computed TLS setting",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', broker='amqp://mq.acme.io//')\n",
            path="tests/test_celery.py",
            note="test code",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import Celery\napp = Celery('proj', broker='amqp://orders@mq.acme.io:5672//')\n",
            line=2,
            column=22,
            message_contains="amqps://",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.broker_url = 'redis://10.0.3.12:6379/0'\n",
            line=3,
            column=1,
            note="private network address",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(result_backend='redis://cache.acme.io:6379/1')\n",
            line=3,
            column=17,
            message_contains="redis_backend_use_ssl",
        ),
        Invalid(
            "import os\nfrom celery import Celery\napp = Celery('proj')\n"
            "app.conf.broker_url = os.environ.get('BROKER_URL', 'amqp://mq.acme.io//')\n",
            line=4,
            column=1,
            note="fallback of os.environ.get",
        ),
        Invalid(
            "CELERY_BROKER_URL = 'redis://cache.acme.io:6379/0'\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=1,
            column=1,
            note="Django settings",
        ),
        Invalid(
            "broker_url = 'amqp://mq.acme.io//'\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"
            },
            line=1,
            column=1,
            note="config module",
        ),
        Invalid(
            "from celery import Celery\n\nclass Config:\n    BROKER_URL = 'amqp://mq.acme.io//'\n\n"
            "app = Celery('proj')\napp.config_from_object(Config)\n",
            line=4,
            column=5,
            note="old name in a configuration class",
        ),
        Invalid(
            "CELERY_BROKER_URL = 'redis://cache.acme.io:6379/0'\nCELERY_BROKER_USE_SSL = False\n",
            path="config/settings/base.py",
            line=1,
            column=1,
            note="a settings module no app is tied to, TLS explicitly off",
        ),
    ]

    def check(self) -> None:
        view = self.project
        index = view.configuration()
        for write in index.writes_in(self.context.summary):
            setting = meant_setting(index, write)
            if write.value is None or setting not in TLS_SETTING:
                continue
            schemes = PLAINTEXT_SCHEMES.get(setting, PLAINTEXT_SCHEMES["broker_url"])
            for text in view.url_texts(write):
                plain = [
                    url
                    for url in parse_urls(text.text)
                    if url.scheme in schemes and not is_local_host(url.host) and not _uses_tls(url)
                ]
                if not plain or not _tls_known_off(index, write, TLS_SETTING[setting]):
                    continue
                url = plain[0]
                secure = "rediss" if url.scheme == "redis" else "amqps"
                via = f" (in {text.via})" if text.via.startswith("the fallback") else ""
                self.report(
                    write.node,
                    self.message(
                        key=write.key, url=url.redacted(), via=via, secure=secure, tls=TLS_SETTING[setting]
                    ),
                )
                break


def _tls_known_off(index: ConfigIndex, write: ConfigWrite, tls: str) -> bool:
    """True only when TLS is known to be off for every app reading the write."""
    apps = index.owners.get(id(write.node))
    if apps:
        for app in apps:
            value = index.app_setting(app, tls)
            if not isinstance(value, Known) or value.value:
                return False
        return True
    # Not tied to an app: look in the module itself (star imports followed).
    for other in index.writes_in(write.summary):
        if meant_setting(index, other) == tls:
            value = index.write_value(other)
            if not isinstance(value, Known) or value.value:
                return False
    flat, opaque = index.module_settings(write.summary)
    if opaque:
        return False
    for key, writes in flat.items():
        meant = visible_setting(index.catalogue, key, None) or index.catalogue.namespaced(key, "CELERY")
        if meant != tls:
            continue
        for other in writes:
            value = index.write_value(other)
            if not isinstance(value, Known) or value.value:
                return False
    return True
