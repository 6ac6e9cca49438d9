"""Passkeys (WebAuthn): registration, management and passwordless sign-in."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/auth", tags=["auth"])
