"""Fixtures of the SMTP tests."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_domain, make_list


@pytest.fixture
async def dev_list(db: AsyncSession) -> None:
    """An active list, dev@lists.example.org, with default settings."""
    domain = await make_domain(db, "lists.example.org")
    await make_list(db, domain, "dev")
    await db.commit()
