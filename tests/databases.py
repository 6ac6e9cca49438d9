"""Real test databases: a fresh one per run on SQLite, PostgreSQL or MariaDB."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BACKENDS = ("sqlite", "postgresql", "mysql")
PG_ADMIN = os.environ.get("OAK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_HOST = os.environ.get("OAK_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("OAK_TEST_MYSQL_PORT", "3306"))


class BackendUnavailableError(Exception):
    """The database server for a backend cannot be reached: the run must fail, not skip."""


def unique_name(prefix: str = "oak_test") -> str:
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"


def create_database(backend: str, name: str, tmp_dir: Path) -> str:
    """Create an empty database and return its URL in the spec's form."""
    if backend == "sqlite":
        return f"sqlite://{tmp_dir / (name + '.db')}"
    if backend == "postgresql":
        import psycopg

        try:
            with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as connection:
                connection.execute(f'CREATE DATABASE "{name}"')
        except psycopg.OperationalError as exc:
            raise BackendUnavailableError(
                f"PostgreSQL at {PG_ADMIN} is unreachable: {exc}"
            ) from exc
        host = PG_ADMIN.rsplit("/", 1)[0]
        return f"{host.replace('postgresql://', 'postgres://', 1)}/{name}"
    if backend == "mysql":
        import pymysql

        try:
            connection = pymysql.connect(
                host=MYSQL_HOST, port=MYSQL_PORT, user="root", connect_timeout=5
            )
        except pymysql.err.OperationalError as exc:
            raise BackendUnavailableError(
                f"MariaDB/MySQL at {MYSQL_HOST}:{MYSQL_PORT} is unreachable: {exc}"
            ) from exc
        with connection, connection.cursor() as cursor:
            cursor.execute(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        return f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{name}"
    raise ValueError(f"unknown backend {backend}")


def drop_database(backend: str, name: str) -> None:
    if backend == "postgresql":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    elif backend == "mysql":
        import pymysql

        connection = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root")
        with connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
