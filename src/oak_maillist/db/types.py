"""Column types that behave the same on SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, DateTime, Dialect, LargeBinary, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; stored naive UTC with microseconds.

    MySQL's DATETIME drops fractions unless asked for fsp=6, and SQLite has no time zones,
    so every backend stores the naive UTC value and we reattach UTC on the way out.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class LongText(TypeDecorator[str]):
    """Text that may exceed 64 KB (message bodies): LONGTEXT on MySQL, TEXT elsewhere.

    MySQL/MariaDB get it as the hexadecimal of its UTF-8, converted back by the server, for
    the reason LongBinary gives: aiomysql escapes text in Python, and text that is not all
    ASCII takes the slow path of str.translate (1.2 of the 7.2 ms of CPU a 100 KB post of
    English and Chinese text cost the service), where hexadecimal takes the fast one.
    """

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.LONGTEXT())
        return dialect.type_descriptor(Text())

    def bind_expression(self, bindvalue: BindParameter[str]) -> ColumnElement[str]:
        return _TextFromHexOnMysql(bindvalue)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name in ("mysql", "mariadb"):
            return _hex_text
        return super().bind_processor(dialect)


def _hex_text(value: str | None) -> str | None:
    return None if value is None else value.encode().hex()


class _TextFromHexOnMysql(FunctionElement[str]):
    """A bound value as it is elsewhere; on MySQL/MariaDB, the UTF-8 text whose hexadecimal
    it is (LongText)."""

    inherit_cache = True
    type = Text()


@compiles(_TextFromHexOnMysql, "mysql")
def _text_unhexed(element: _TextFromHexOnMysql, compiler: SQLCompiler, **kw: Any) -> str:
    # An explicit collation: compared with a column, the converted value would otherwise
    # have the character set's default one, and MySQL refuses to choose ("illegal mix").
    # Binary: text columns are compared exactly, as on the other databases.
    value = compiler.process(element.clauses, **kw)
    return f"CONVERT(UNHEX({value}) USING utf8mb4) COLLATE utf8mb4_bin"


class LongBinary(TypeDecorator[bytes]):
    """Raw bytes of any size (RFC 822 messages): LONGBLOB on MySQL, BLOB/BYTEA elsewhere.

    MySQL/MariaDB get them as hexadecimal text, UNHEX()ed by the server. aiomysql puts bytes
    into the statement's text escaped in Python, one character at a time through a table
    for every byte above 127: 2.6 ms for a 73 KB message of English and Chinese text (in the
    event loop that answers SMTP clients), against 0.1 ms to make and escape its hex.
    """

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.LONGBLOB())
        return dialect.type_descriptor(LargeBinary())

    def bind_expression(self, bindvalue: BindParameter[bytes]) -> ColumnElement[bytes]:
        return _FromHexOnMysql(bindvalue)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name in ("mysql", "mariadb"):
            return _hex
        return super().bind_processor(dialect)


def _hex(value: bytes | None) -> str | None:
    return None if value is None else bytes(value).hex()


class _FromHexOnMysql(FunctionElement[bytes]):
    """A bound value as it is elsewhere; on MySQL/MariaDB, UNHEX() of it (LongBinary)."""

    inherit_cache = True
    type = LargeBinary()


@compiles(_FromHexOnMysql)
@compiles(_TextFromHexOnMysql)
def _as_given(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_FromHexOnMysql, "mysql")
def _unhexed(element: _FromHexOnMysql, compiler: SQLCompiler, **kw: Any) -> str:
    return f"UNHEX({compiler.process(element.clauses, **kw)})"


class JsonText(TypeDecorator[Any]):
    """JSON kept as text, so every backend stores and reflects it alike.

    MariaDB's JSON is an alias of LONGTEXT that reflects differently from MySQL's, and we
    never query inside these values, so text is the portable choice.
    """

    impl = LongText
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


def email_column_type() -> String:
    """Addresses: RFC 5321 caps a path at 254 octets; 320 leaves room for odd local parts."""
    return String(320)


def address_key_type() -> TypeEngine[str]:
    """A lowercased address used as a unique key: compared byte for byte everywhere.

    MySQL/MariaDB collations fold accents (josé = jose) unless told otherwise; SQLite and
    PostgreSQL compare text exactly already.
    """
    return String(320).with_variant(
        mysql.VARCHAR(320, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )
