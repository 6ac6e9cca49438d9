"""Users: creation, lookup, administration, profile and password changes."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import SecuritySettings
from oak_maillist.db.types import utcnow
from oak_maillist.errors import ConflictError, InvalidInputError, NotFoundError
from oak_maillist.models import SystemRole, User
from oak_maillist.services import activity
from oak_maillist.services.activity import Origin
from oak_maillist.services.auth import passwords, sessions


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
    try:
        async with session.begin_nested():  # a savepoint: a conflict leaves the request usable
            session.add(user)
            await session.flush()
    except IntegrityError:
        raise UserExistsError from None
    return user


class UserNotFoundError(NotFoundError):
    code = "user_not_found"
    template = "User {user_id} does not exist"


class LastAdminError(ConflictError):
    code = "last_admin"
    template = "The last active administrator cannot be removed, demoted or deactivated"


class CannotDeleteSelfError(ConflictError):
    code = "cannot_delete_self"
    template = "You cannot delete your own account here"


class WrongPasswordError(InvalidInputError):
    code = "wrong_password"
    template = "The current password is wrong"
    persist = True  # the activity log keeps the failed attempt


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFoundError(user_id=user_id)
    return user


async def list_users(
    session: AsyncSession,
    *,
    offset: int,
    limit: int,
    query: str | None = None,
    role: str | None = None,
    is_active: bool | None = None,
) -> tuple[list[User], int]:
    """A page of users by address, with optional search and filters."""
    statement = select(User)
    if query:
        needle = query.lower()
        statement = statement.where(
            or_(
                User.email_normalized.contains(needle, autoescape=True),
                func.lower(User.display_name).contains(needle, autoescape=True),
            )
        )
    if role:
        statement = statement.where(User.role == role)
    if is_active is not None:
        statement = statement.where(User.is_active.is_(is_active))
    total = (
        await session.execute(select(func.count()).select_from(statement.subquery()))
    ).scalar_one()
    rows = (
        await session.execute(
            statement.order_by(User.email_normalized, User.id).offset(offset).limit(limit)
        )
    ).scalars()
    return list(rows), int(total)


async def _ensure_other_admin(session: AsyncSession, user: User) -> None:
    if user.role == SystemRole.ADMIN and user.is_active and await count_admins(session) <= 1:
        raise LastAdminError


async def update_user(
    session: AsyncSession,
    user: User,
    *,
    actor: User,
    origin: Origin,
    display_name: str | None = None,
    language: str | None = None,
    role: SystemRole | None = None,
    is_active: bool | None = None,
) -> User:
    """Administrator changes; deactivating ends the user's sessions at once."""
    if (role is not None and role != user.role) or is_active is False:
        await _ensure_other_admin(session, user)
    changes: dict[str, object] = {}
    for name, value in (
        ("display_name", display_name),
        ("language", language),
        ("role", role),
        ("is_active", is_active),
    ):
        if value is not None and getattr(user, name) != value:
            changes[name] = str(value) if isinstance(value, SystemRole) else value
            setattr(user, name, value)
    if is_active is False:
        await sessions.revoke_all(
            session, user.id, except_session_id=None, origin=origin, reason="deactivated"
        )
    if changes:
        await activity.record(
            session,
            "user.updated",
            actor_id=actor.id,
            origin=origin,
            target_type="user",
            target_id=user.id,
            changes=changes,
        )
    await session.flush()
    return user


async def delete_user(session: AsyncSession, user: User, *, actor: User, origin: Origin) -> None:
    if user.id == actor.id:
        raise CannotDeleteSelfError
    await _ensure_other_admin(session, user)
    await activity.record(
        session,
        "user.deleted",
        actor_id=actor.id,
        origin=origin,
        target_type="user",
        target_id=user.id,
        email=user.email,
    )
    await session.delete(user)
    await session.flush()


async def change_password(
    session: AsyncSession,
    user: User,
    *,
    current: str,
    new: str,
    settings: SecuritySettings,
    keep_session_id: int,
    origin: Origin,
) -> int:
    """Change the caller's password; every other session ends. Returns how many ended."""
    if user.password_hash is None or not await passwords.verify_password(
        user.password_hash, current, settings
    ):
        await activity.record(
            session,
            "auth.password_change_failed",
            actor_id=user.id,
            origin=origin,
            target_type="user",
            target_id=user.id,
        )
        raise WrongPasswordError
    passwords.check_policy(new, settings)
    user.password_hash = await passwords.hash_password(new, settings)
    user.password_changed_at = utcnow()
    await activity.record(
        session,
        "auth.password_changed",
        actor_id=user.id,
        origin=origin,
        target_type="user",
        target_id=user.id,
    )
    return await sessions.revoke_all(
        session,
        user.id,
        except_session_id=keep_session_id,
        origin=origin,
        reason="password_changed",
    )
