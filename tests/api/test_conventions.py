"""API conventions every endpoint follows: error body, validation details, pagination."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from oak_maillist.api.deps import MAX_PER_PAGE, PageDep
from oak_maillist.api.v1.schemas.common import Page
from oak_maillist.app import create_app
from oak_maillist.errors import ConflictError, RateLimitedError
from oak_maillist.runtime import Runtime


class Item(BaseModel):
    n: int


class Thing(BaseModel):
    name: str = Field(min_length=1, max_length=10)
    size: int = Field(ge=0)


class ThingExistsError(ConflictError):
    code = "thing_exists"
    template = "Thing {name} exists"


def _probe_router() -> APIRouter:
    """Endpoints that exercise the shared machinery the way real ones will."""
    router = APIRouter(prefix="/api/v1/probe")

    @router.get("/items")
    async def items(page: PageDep) -> Page[Item]:
        numbers = list(range(250))[page.offset : page.offset + page.per_page]
        return Page(
            items=[Item(n=n) for n in numbers], total=250, page=page.page, per_page=page.per_page
        )

    @router.post("/things")
    async def things(thing: Annotated[Thing, Body()]) -> Thing:
        if thing.name == "taken":
            raise ThingExistsError(name=thing.name)
        if thing.name == "busy":
            raise RateLimitedError(retry_after=30)
        if thing.name == "boom":
            raise RuntimeError("unexpected")
        return thing

    return router


@pytest.fixture
async def probe(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime)
    app.include_router(_probe_router())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        yield client


async def test_pagination_shape_and_cap(probe: httpx.AsyncClient) -> None:
    response = await probe.get("/api/v1/probe/items", params={"page": 3, "per_page": 100})
    body = response.json()
    assert response.status_code == 200
    assert (body["total"], body["page"], body["per_page"]) == (250, 3, 100)
    assert [item["n"] for item in body["items"]] == list(range(200, 250))
    too_many = await probe.get("/api/v1/probe/items", params={"per_page": MAX_PER_PAGE + 1})
    assert too_many.status_code == 422
    assert too_many.json()["error"]["details"]["fields"][0]["field"] == "query.per_page"


async def test_validation_error_names_field_paths(probe: httpx.AsyncClient) -> None:
    response = await probe.post("/api/v1/probe/things", json={"name": "", "size": -1})
    error = response.json()["error"]
    assert response.status_code == 422
    assert error["code"] == "validation_error"
    assert {item["field"] for item in error["details"]["fields"]} == {"body.name", "body.size"}
    assert "body.name" in error["message"]


async def test_malformed_json_is_a_422_not_a_500(probe: httpx.AsyncClient) -> None:
    response = await probe.post(
        "/api/v1/probe/things", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_domain_errors_keep_their_code(probe: httpx.AsyncClient) -> None:
    response = await probe.post("/api/v1/probe/things", json={"name": "taken", "size": 1})
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "thing_exists",
            "message": "Thing taken exists",
            "details": {"name": "taken"},
        }
    }


async def test_rate_limit_answers_retry_after(probe: httpx.AsyncClient) -> None:
    response = await probe.post("/api/v1/probe/things", json={"name": "busy", "size": 1})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    assert response.json()["error"]["code"] == "rate_limited"


async def test_unexpected_exception_is_a_generic_500_body(probe: httpx.AsyncClient) -> None:
    response = await probe.post("/api/v1/probe/things", json={"name": "boom", "size": 1})
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Internal server error", "details": {}}
    }


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong_method = await client.delete("/api/v1/system/info")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_oversized_body_is_refused_with_413(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    limit = runtime.settings.server.max_body_size_mb * 1024 * 1024
    response = await client.post("/api/v1/system/info", content=b"x" * (limit + 1))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_openapi_is_served_under_api_v1(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["info"]["title"] == "Oak Maillist"
    assert "/api/v1/system/info" in spec["paths"]
    assert "/health/ready" in spec["paths"]


async def test_405_lists_every_method_of_the_resource(client: httpx.AsyncClient) -> None:
    templated = await client.request("OPTIONS", "/api/v1/users/1")
    assert templated.status_code == 405
    assert templated.headers["allow"] == "DELETE, GET, HEAD, PATCH"
    literal = await client.request("OPTIONS", "/api/v1/users/me")
    assert literal.status_code == 405
    assert literal.headers["allow"] == "GET, HEAD, PATCH"


async def test_openapi_states_the_configured_password_minimum(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    schemas = (await client.get("/api/v1/openapi.json")).json()["components"]["schemas"]
    minimum = runtime.settings.security.password_min_length
    assert schemas["RegisterIn"]["properties"]["password"]["minLength"] == minimum
    assert schemas["PasswordChange"]["properties"]["new_password"]["minLength"] == minimum


async def test_nul_characters_are_refused_not_a_500(
    client: httpx.AsyncClient, backend: str
) -> None:
    for path in ("/api/v1/lists?q=%00", "/api/v1/users?q=a%00b"):
        response = await client.get(path)
        assert response.status_code == 422, path
        assert response.json()["error"]["code"] == "invalid_character"
    body = await client.post(
        "/api/v1/auth/register",
        json={"email": "nul@example.org", "password": "long enough 1", "display_name": "a\u0000b"},
    )
    if backend == "postgresql":  # PostgreSQL text cannot hold NUL; the others store it
        assert body.status_code == 422, body.text
        assert body.json()["error"]["code"] == "invalid_value"
    else:
        assert body.status_code == 201, body.text
