"""The built web app at "/", with index.html for client-side routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException

# Paths that belong to the server, never to the web app's router.
SERVER_PREFIXES = ("api/", "health", "metrics")


def mount_spa(app: FastAPI, static_dir: Path) -> bool:
    """Serve files from `static_dir` when it holds a build; return whether it did."""
    root = static_dir.resolve()
    index = root / "index.html"
    if not index.is_file():
        return False
    router = APIRouter(include_in_schema=False)

    @router.get("/{path:path}")
    async def spa(path: str) -> FileResponse:
        if path.startswith(SERVER_PREFIXES):
            raise HTTPException(status_code=404)
        candidate = (root / path).resolve()
        if path and candidate.is_relative_to(root) and candidate.is_file():
            # Hashed assets never change; index.html must be revalidated to pick up new builds.
            cache = (
                "public, max-age=31536000, immutable" if path.startswith("assets/") else "no-cache"
            )
            return FileResponse(candidate, headers={"Cache-Control": cache})
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.include_router(router)
    return True
