"""The `oak-maillist` command as an operator runs it: real processes, real sockets."""

from __future__ import annotations

import json
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET
from tests.databases import create_database, drop_database, unique_name
from tests.processes import Service, base_env, free_port, run


@pytest.fixture
def env(backend: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A clean environment on a fresh database of the backend under test."""
    name = unique_name("oak_cli")
    clean = base_env(create_database(backend, name, tmp_path), tmp_path)
    yield clean
    drop_database(backend, name)


def test_bad_value_stops_with_one_line_naming_the_key(env: dict[str, str]) -> None:
    result = run(env | {"OAK__SERVER__PORT": "abc"}, "serve")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("oak-maillist: invalid configuration: server.port:")
    assert "Traceback" not in result.stderr


def test_config_check_prints_redacted_configuration(env: dict[str, str]) -> None:
    result = run(env | {"OAK__SMTP__OUTGOING__PASSWORD": "relay-pass-123"}, "config", "check")
    assert result.returncode == 0, result.stderr
    assert '"port": 3000' in result.stdout
    assert "relay-pass-123" not in result.stdout
    assert '"password": "********"' in result.stdout


def test_config_check_names_every_invalid_key(env: dict[str, str]) -> None:
    result = run(
        env
        | {
            "OAK__SERVER__PORT": "99999",
            "OAK__LOGGING__FORMAT": "xml",
            "OAK__QUEUE__BROKER": "kafka://x",
        },
        "config",
        "check",
    )
    assert result.returncode == 2
    assert {line.split(":", 2)[2].strip().split(":")[0] for line in result.stderr.splitlines()} == {
        "server.port",
        "logging.format",
        "queue.broker",
    }


def test_production_refuses_default_secret(env: dict[str, str]) -> None:
    result = run(env | {"RUN_MODE": "production"}, "serve")
    assert result.returncode == 2
    assert "security.jwt_secret" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_status_up_down(env: dict[str, str]) -> None:
    before = run(env, "migrate", "status")
    assert before.returncode == 1
    assert "migrations pending" in before.stdout
    up = run(env, "migrate", "up")
    assert up.returncode == 0, up.stderr
    assert "up to date" in up.stdout
    down = run(env, "migrate", "down")
    assert down.returncode == 0, down.stderr
    assert "migrations pending" in down.stdout  # one revision below head
    to_base = run(env, "migrate", "down", "--revision", "base")
    assert to_base.returncode == 0, to_base.stderr
    assert "database revision: (empty)" in to_base.stdout
    assert run(env, "migrate", "up").returncode == 0
    assert run(env, "migrate", "status").returncode == 0


def test_user_create_admin_from_stdin(env: dict[str, str]) -> None:
    assert run(env, "migrate", "up").returncode == 0
    created = run(
        env,
        "user",
        "create",
        "--email",
        "Admin@Example.org",
        "--password-stdin",
        "--admin",
        stdin="correct horse battery\n",
    )
    assert created.returncode == 0, created.stderr
    assert "created administrator Admin@example.org" in created.stdout
    duplicate = run(
        env,
        "user",
        "create",
        "--email",
        "admin@example.org",
        "--password-stdin",
        stdin="another password\n",
    )
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr
    short = run(
        env, "user", "create", "--email", "b@example.org", "--password-stdin", stdin="short\n"
    )
    assert short.returncode == 1
    assert "at least 8 characters" in short.stderr
    assert "short" not in created.stdout + created.stderr


def test_worker_needs_a_shared_broker(env: dict[str, str]) -> None:
    result = run(env, "worker")
    assert result.returncode == 2
    assert "shared broker" in result.stderr


def test_serve_answers_http_and_smtp_and_stops_on_sigterm(
    env: dict[str, str], tmp_path: Path
) -> None:
    http_port, smtp_port = free_port(), free_port()
    env = env | {
        "OAK__SERVER__PORT": str(http_port),
        "OAK__SMTP__INCOMING__PORT": str(smtp_port),
        "OAK__SERVER__HOST": "127.0.0.1",
        "OAK__SMTP__INCOMING__HOST": "127.0.0.1",
        "OAK__LOGGING__FORMAT": "json",
        "OAK__SECURITY__JWT_SECRET": TEST_SECRET,
    }
    service = Service(env, tmp_path / "serve.log", "serve", "--migrate")
    try:
        ready = service.wait_ready(f"http://127.0.0.1:{http_port}/health/ready")
        components = ready.json()["components"]
        assert {
            name: components[name]["status"] for name in ("smtp", "worker", "scheduler", "http")
        } == {"smtp": "ok", "worker": "ok", "scheduler": "ok", "http": "ok"}
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
            assert client.ehlo()[0] == 250
            client.mail("a@example.com")
            assert client.rcpt("dev@example.com") == (550, b"5.1.1 No such list or address here")
    finally:
        status, stderr = service.stop()
    assert status == 0, stderr
    assert TEST_SECRET not in stderr
    started = [
        json.loads(line) for line in stderr.splitlines() if '"started"' in line and "{" in line
    ]
    assert [entry["event"] for entry in started] == ["started"]
    assert started[0]["frozen_objects"] > 10_000  # startup's objects, out of the collector's way
