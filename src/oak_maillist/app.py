"""create_app(runtime) -> the ASGI application with every router, handler and middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from oak_maillist import __version__
from oak_maillist.api import health, metrics
from oak_maillist.api.errors import install_error_handlers
from oak_maillist.api.middleware import RequestContextMiddleware
from oak_maillist.api.spa import mount_spa
from oak_maillist.api.v1 import router as v1_router
from oak_maillist.metrics import BUILD_INFO
from oak_maillist.runtime import Runtime

# Request fields that carry a new password: their schema states the configured minimum length.
NEW_PASSWORD_FIELDS = {
    "RegisterIn": "password",
    "SetupIn": "password",
    "UserCreate": "password",
    "PasswordChange": "new_password",
}


def _finish_openapi(app: FastAPI, min_length: int) -> None:
    """Publish what FastAPI cannot infer: the configured password minimum, optional tokens."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.get("components", {}).get("schemas", {})
            for model, field in NEW_PASSWORD_FIELDS.items():
                if model in components:
                    components[model]["properties"][field]["minLength"] = min_length
            for operations in schema["paths"].values():
                for operation in operations.values():
                    if operation.pop("x-auth-optional", False):
                        operation["security"] = [{}, *operation.get("security", [])]
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(runtime: Runtime) -> FastAPI:
    """The HTTP application. The caller owns the runtime (engine, broker) and its lifetime."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.components["http"] = "running"
        try:
            yield
        finally:
            runtime.components.pop("http", None)

    app = FastAPI(
        title="Oak Maillist",
        version=__version__,
        description="Self-hosted mailing list service. Errors always answer "
        '`{"error": {"code", "message", "details"}}`.',
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=runtime.settings.server.max_body_size_mb * 1024 * 1024,
    )
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(v1_router)
    mount_spa(app, runtime.settings.server.static_dir)
    _finish_openapi(app, runtime.settings.security.password_min_length)
    BUILD_INFO.labels(__version__).set(1)
    return app
