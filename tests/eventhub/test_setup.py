"""What a newcomer and an operator meet: configuration checks, the embedded default server, the API docs."""

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# What the test process may have set for itself and a real deployment would not have.
NOT_INHERITED = {"DATABASE_URL", "AMQP_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def manage(*args, env_overrides, timeout=60):
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("DATABASE_URL", "mysql://root@localhost/x", "DATABASE_URL cannot be used"),
        ("DATABASE_URL", "not a url", "DATABASE_URL cannot be used"),
        ("AMQP_URL", "http://127.0.0.1:5672", "AMQP_URL must start with one of amqp://, amqps://"),
        ("REDIS_URL", "redis://127.0.0.1:notaport", "REDIS_URL is not a valid URL"),
        ("DEBUG", "perhaps", "DEBUG='perhaps' is not a boolean"),
        ("EVENTHUB_RATE_LIMITS", "api=lots", "'api=lots' is not KIND=N/PERIOD"),
        ("EVENTHUB_RATE_LIMITS", "upload=5/minute", "'upload=5/minute' is not KIND=N/PERIOD"),
        ("EVENTHUB_LOGIN_LOCK_SECONDS", "soon", "EVENTHUB_LOGIN_LOCK_SECONDS='soon' is not a positive whole number"),
    ],
)
def test_misconfiguration_is_reported_by_system_checks(tmp_path, name, value, expected):
    result = manage("check", env_overrides={"EVENTHUB_DATA_DIR": str(tmp_path), name: value})
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_good_configuration_passes_the_checks(tmp_path):
    result = manage(
        "check",
        env_overrides={"EVENTHUB_DATA_DIR": str(tmp_path), "AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/", "REDIS_URL": "redis://127.0.0.1:6379/0"},
    )
    assert result.returncode == 0, result.stderr


def test_embedded_default_serves_the_api_on_sqlite_with_a_printed_token(tmp_path):
    """The README's first command, minus the install: `manage.py serve --demo` on a bare data folder."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env["EVENTHUB_DATA_DIR"] = str(tmp_path)
    # Port 0: the server binds a free port itself and uvicorn logs which (no race for a port picked beforehand).
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--demo", "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        lines, token, port = [], None, None
        while token is None or port is None:  # the test's timeout bounds this
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
            if match := re.search(r"API token:\s+(\S+)", line):
                token = match.group(1)
            if match := re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", line):
                port = int(match.group(1))
        assert any(re.search(r"Login:\s+admin / \S+", line) for line in lines)
        assert any(re.search(r"Dashboard:\s+http://127.0.0.1:\d+/login/", line) for line in lines)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/webhook/demo/event-subscriptions", headers={"Authorization": f"Bearer {token}"})
        body = urllib.request.urlopen(request, timeout=30).read().decode()  # uvicorn said it listens: no retry
        assert '"product.created"' in body
        assert (tmp_path / "eventhub.sqlite3").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "openapi: 3" in text and "/webhook/{tenant}/event-subscriptions" in text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert not re.search(r"""(src|href)=["']https?://""", html), "docs must not load assets from the internet"
    asset = re.search(r"""src=["'](/static/[^"']+swagger-ui-bundle[^"']*)""", html).group(1)
    assert client.get(asset).status_code == 200


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_deploy_checks_are_clean_with_production_settings(tmp_path):
    """What an operator runs before going live: `check --deploy` with HTTPS, a real secret key, DEBUG off."""
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env_overrides={"EVENTHUB_DATA_DIR": str(tmp_path), "SECRET_KEY": "x" * 20 + "-production-secret-key-with-entropy-9f3c1a",
                       "HTTPS": "1", "DEBUG": "0", "LOG_FORMAT": "json"},
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
