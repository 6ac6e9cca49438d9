"""Users: creation, lookup by address."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import SecuritySettings
from oak_maillist.db.types import utcnow
from oak_maillist.errors import ConflictError, InvalidInputError
from oak_maillist.models import SystemRole, User
from oak_maillist.services.auth import passwords


class InvalidEmailError(InvalidInputError):
    code = "invalid_email"
    template = "The email address is not valid: {reason}"


class UserExistsError(ConflictError):
    code = "user_exists"
    template = "A user with this email address already exists"


def normalize_email(address: str) -> tuple[str, str]:
    """(address as given but validated, lowercased key); raises InvalidEmailError."""
    try:
        valid = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise InvalidEmailError(reason=str(exc)) from None
    return valid.normalized, valid.normalized.lower()


async def find_user_by_email(session: AsyncSession, address: str) -> User | None:
    _, key = normalize_email(address)
    return (
        await session.execute(select(User).where(User.email_normalized == key))
    ).scalar_one_or_none()


async def count_admins(session: AsyncSession) -> int:
    query = (
        select(func.count())
        .select_from(User)
        .where(User.role == SystemRole.ADMIN, User.is_active.is_(True))
    )
    return int((await session.execute(query)).scalar_one())


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str | None,
    settings: SecuritySettings,
    display_name: str = "",
    language: str = "en",
    role: SystemRole = SystemRole.USER,
) -> User:
    """Create a user; the password is checked against the policy and hashed with Argon2id."""
    address, key = normalize_email(email)
    password_hash = None
    if password is not None:
        passwords.check_policy(password, settings)
        password_hash = await passwords.hash_password(password, settings)
    if await find_user_by_email(session, address) is not None:
        raise UserExistsError
    user = User(
        email=address,
        email_normalized=key,
        password_hash=password_hash,
        display_name=display_name,
        language=language,
        role=role,
        password_changed_at=utcnow() if password_hash else None,
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise UserExistsError from None
    return user
