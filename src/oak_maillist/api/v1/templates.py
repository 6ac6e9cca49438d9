"""Email templates: built-in defaults, site-wide and per-list overrides, preview."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["templates"])
