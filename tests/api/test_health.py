"""Health endpoints and metrics, as a load balancer and Prometheus see them."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from oak_maillist import __version__
from oak_maillist.app import create_app
from oak_maillist.config import DatabaseSettings, Settings
from oak_maillist.db import migrate
from oak_maillist.runtime import Runtime


async def test_live(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_database_answers_and_schema_is_current(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["database"]["backend"] == runtime.backend
    assert body["components"]["migrations"]["current"] == migrate.head_revision()


async def _get(runtime: Runtime, path: str) -> httpx.Response:
    app = create_app(runtime)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        return await client.get(path)


async def test_not_ready_while_migrations_are_pending(settings: Settings, tmp_path: object) -> None:
    empty = settings.model_copy(
        update={"database": DatabaseSettings(url=SecretStr(f"sqlite://{tmp_path}/empty.db"))}
    )
    runtime = Runtime.from_settings(empty)
    try:
        response = await _get(runtime, "/health/ready")
    finally:
        await runtime.close()
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "not_ready"
    assert "migrations" in error["message"]
    assert error["details"]["components"]["migrations"]["status"] == "pending"


async def test_not_ready_when_database_is_unreachable(settings: Settings) -> None:
    unreachable = settings.model_copy(
        update={
            "database": DatabaseSettings(
                url=SecretStr("postgres://nobody@127.0.0.1:1/none"), connect_timeout=2
            )
        }
    )
    runtime = Runtime.from_settings(unreachable)
    try:
        ready = await _get(runtime, "/health/ready")
        summary = await _get(runtime, "/health")
        metrics = await _get(runtime, "/metrics")
    finally:
        await runtime.close()
    assert ready.status_code == 503
    assert ready.json()["error"]["details"]["components"]["database"]["status"] == "error"
    assert summary.status_code == 200
    assert summary.json()["status"] == "degraded"
    assert metrics.status_code == 200  # a scrape still answers


async def test_health_summary(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert {"database", "migrations", "http"} <= set(body["components"])


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/system/info")
    await client.get("/api/v1/no-such-thing")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'oak_http_requests_total{method="GET",route="/api/v1/system/info",status="200"}' in text
    assert 'route="unmatched",status="404"' in text
    assert "oak_http_request_duration_seconds_bucket" in text
    for family in (
        "oak_smtp_sessions_total",
        "oak_messages_received_total",
        "oak_deliveries_total",
        "oak_jobs_total",
    ):
        assert f"# TYPE {family} counter" in text
    assert 'oak_queue_depth{kind="delivery"} 0.0' in text
    assert 'oak_queue_depth{kind="inbound"} 0.0' in text


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await client.get("/health/live", headers={"X-Request-ID": "bad id\n"})
    assert generated.headers["x-request-id"] != "bad id\n"
    assert len(generated.headers["x-request-id"]) == 16
