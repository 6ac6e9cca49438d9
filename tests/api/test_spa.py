"""The built web app is served at "/" with a fallback to index.html for client routes."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from oak_maillist.app import create_app
from oak_maillist.config import ServerSettings
from oak_maillist.runtime import Runtime


@pytest.fixture
async def spa(runtime: Runtime, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Oak</title><div id=app></div>")
    (dist / "assets" / "app-1234.js").write_text("console.log('oak')")
    (tmp_path / "secret.txt").write_text("outside")
    settings = runtime.settings.model_copy(update={"server": ServerSettings(static_dir=dist)})
    app = create_app(dataclasses.replace(runtime, settings=settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        yield client


async def test_index_and_client_routes(spa: httpx.AsyncClient) -> None:
    for path in ("/", "/lists/3/settings", "/login"):
        response = await spa.get(path)
        assert response.status_code == 200
        assert "<div id=app>" in response.text
        assert response.headers["cache-control"] == "no-cache"


async def test_assets_are_cached_forever(spa: httpx.AsyncClient) -> None:
    response = await spa.get("/assets/app-1234.js")
    assert response.text == "console.log('oak')"
    assert "immutable" in response.headers["cache-control"]


async def test_no_path_traversal(spa: httpx.AsyncClient) -> None:
    for path in ("/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt"):
        response = await spa.get(path)
        assert "outside" not in response.text


async def test_api_paths_stay_json_404(spa: httpx.AsyncClient) -> None:
    response = await spa.get("/api/v1/unknown")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert (await spa.get("/health/live")).json() == {"status": "ok"}


async def test_without_a_build_root_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
