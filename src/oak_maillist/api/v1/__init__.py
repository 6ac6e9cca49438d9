"""Version 1 of the HTTP API, mounted at /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from oak_maillist.api.v1 import (
    activity,
    ai_moderation,
    archive,
    auth,
    dashboard,
    deliveries,
    domains,
    lists,
    mfa,
    moderation,
    passkeys,
    policies,
    settings,
    setup,
    subscribers,
    subscriptions,
    system,
    templates,
    users,
)
from oak_maillist.api.v1.schemas.common import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
router.include_router(system.router)
router.include_router(setup.router)
router.include_router(auth.router)
router.include_router(mfa.router)
router.include_router(passkeys.router)
router.include_router(users.router)
router.include_router(settings.router)
router.include_router(activity.router)
router.include_router(domains.router)
router.include_router(lists.router)
router.include_router(subscribers.router)
router.include_router(subscriptions.router)
router.include_router(templates.router)
router.include_router(dashboard.router)
router.include_router(policies.router)
router.include_router(moderation.router)
router.include_router(ai_moderation.router)
router.include_router(archive.router)
router.include_router(deliveries.router)
