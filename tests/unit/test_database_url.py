"""The spec's database URL forms map to our async drivers."""

from __future__ import annotations

import pytest

from oak_maillist.db.engine import DatabaseUrlError, sqlalchemy_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://oak:pw@db:5432/oak", "postgresql+psycopg://oak:***@db:5432/oak"),
        ("postgresql://oak@db/oak", "postgresql+psycopg://oak@db/oak"),
        ("postgresql+psycopg://oak@db/oak", "postgresql+psycopg://oak@db/oak"),
        (
            "mysql://root@127.0.0.1:3306/oak",
            "mysql+aiomysql://root@127.0.0.1:3306/oak?charset=utf8mb4",
        ),
        ("mariadb://root@h/oak", "mysql+aiomysql://root@h/oak?charset=utf8mb4"),
        ("sqlite://./data/oak.db", "sqlite+aiosqlite:///./data/oak.db"),
        ("sqlite://data/oak.db?mode=rwc", "sqlite+aiosqlite:///data/oak.db"),
        ("sqlite:///srv/oak/oak.db", "sqlite+aiosqlite:////srv/oak/oak.db"),
        ("sqlite::memory:", "sqlite+aiosqlite://"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_url_forms(given: str, expected: str) -> None:
    assert str(sqlalchemy_url(given)) == expected


@pytest.mark.parametrize("given", ["oracle://x@y/z", "postgres:/missing-slashes"])
def test_unsupported_urls_are_refused(given: str) -> None:
    with pytest.raises(DatabaseUrlError):
        sqlalchemy_url(given)
