"""Single-use backup codes for the TOTP second factor: issued, hashed, stored and spent.

Kept apart from totp because these are rows of their own (BackupCode) with their own hashing;
totp decides when codes are issued or spent.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.config import SecuritySettings
from oak_maillist.db.types import utcnow
from oak_maillist.models import BackupCode, User
from oak_maillist.services.auth.totp_codes import BACKUP_CODE_ALPHABET, BACKUP_CODE_LENGTH
from oak_maillist.services.crypto import same

BACKUP_CODE_COUNT = 10


def _backup_code_hash(code: str, settings: SecuritySettings) -> str:
    """What we store for a backup code: HMAC-SHA256 under a key derived from jwt_secret.

    Not Argon2: a slow hash protects secrets people choose; these are random (~49.5 bits
    each), and the key, which is not in the database, already stops offline guessing from a
    stolen copy. Argon2 would cost up to ten hashes per guess (~2 s of CPU at production
    settings) on an endpoint anyone can call: a cheap denial of service.
    """
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"oak-maillist/backup-codes/v1",
        info=b"backup-code",
    ).derive(settings.jwt_secret.get_secret_value().encode())
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


def _new_backup_code() -> str:
    return "".join(secrets.choice(BACKUP_CODE_ALPHABET) for _ in range(BACKUP_CODE_LENGTH))


def _display(code: str) -> str:
    half = BACKUP_CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


async def accept_backup_code(
    session: AsyncSession, user: User, code: str, settings: SecuritySettings
) -> bool:
    """Spend an unused backup code; the conditional UPDATE lets only one request spend it."""
    wanted = _backup_code_hash(code, settings)
    rows = await session.execute(
        select(BackupCode.id, BackupCode.code_hash).where(
            BackupCode.user_id == user.id, BackupCode.used_at.is_(None)
        )
    )
    match: int | None = None
    for row_id, code_hash in rows.all():
        if same(code_hash, wanted) and match is None:
            match = row_id
    if match is None:
        return False
    spent = await session.execute(
        update(BackupCode)
        .where(BackupCode.id == match, BackupCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(spent, "rowcount", 0) == 1)


async def replace_backup_codes(
    session: AsyncSession, user: User, settings: SecuritySettings
) -> list[str]:
    await session.execute(delete(BackupCode).where(BackupCode.user_id == user.id))
    codes = [_new_backup_code() for _ in range(BACKUP_CODE_COUNT)]
    session.add_all(
        BackupCode(user_id=user.id, code_hash=_backup_code_hash(code, settings)) for code in codes
    )
    await session.flush()
    return [_display(code) for code in codes]


async def unused_backup_codes(session: AsyncSession, user_id: int) -> int:
    count = await session.execute(
        select(func.count())
        .select_from(BackupCode)
        .where(BackupCode.user_id == user_id, BackupCode.used_at.is_(None))
    )
    return int(count.scalar_one())
