"""Subscribers of a list: listing, changes, CSV import and export."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/lists", tags=["subscribers"])
