"""The `oak-maillist` command: serve, worker, scheduler, migrate, user, config."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from oak_maillist import __version__
from oak_maillist.config import ConfigError, Settings, load_settings, redacted
from oak_maillist.db import migrate
from oak_maillist.db.engine import DatabaseUrlError, transaction, warm_pool
from oak_maillist.errors import AppError
from oak_maillist.logging import configure_logging, get_logger
from oak_maillist.models import SystemRole
from oak_maillist.runtime import Runtime

EXIT_CONFIG = 2
EXIT_FAILURE = 1
log = get_logger(__name__)


def _say(*parts: object, err: bool = False) -> None:
    """The command's own output: stdout, or stderr for problems."""
    print(*parts, file=sys.stderr if err else sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oak-maillist",
        description="Oak Maillist: a self-hosted mailing list service. Configuration comes from "
        "$CONFIG_DIR/default.toml, $CONFIG_DIR/$RUN_MODE.toml and OAK__SECTION__KEY variables.",
    )
    parser.add_argument("--version", action="version", version=f"oak-maillist {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run HTTP, SMTP, workers and scheduler")
    serve.add_argument(
        "--role",
        default="all",
        help="comma-separated roles to run: all, http, smtp, worker, scheduler (default: all)",
    )
    serve.add_argument("--migrate", action="store_true", help="apply migrations before starting")
    commands.add_parser("worker", help="run background jobs from the shared broker")
    commands.add_parser("scheduler", help="run the clock (exactly one per deployment)")

    migrate_cmd = commands.add_parser("migrate", help="database schema migrations")
    steps = migrate_cmd.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = steps.add_parser("up", help="apply migrations (to head by default)")
    up.add_argument("--revision", default="head")
    down = steps.add_parser("down", help="roll back one migration (or to --revision)")
    down.add_argument("--revision", default="-1")
    steps.add_parser("status", help="show the database's and the code's revisions")

    user = commands.add_parser("user", help="manage users")
    user_steps = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = user_steps.add_parser("create", help="create a user")
    create.add_argument("--email", required=True)
    create.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from the first line of standard input",
    )
    create.add_argument("--name", default="")
    create.add_argument("--admin", action="store_true", help="make the user an administrator")

    config = commands.add_parser("config", help="configuration")
    config_steps = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    config_steps.add_parser("check", help="validate and print the effective configuration")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        for problem in exc.problems:
            _say(f"oak-maillist: invalid configuration: {problem}", err=True)
        return EXIT_CONFIG
    if args.command == "config":
        return _config_check(settings)
    configure_logging(settings.logging)
    handler = COMMANDS[args.command]
    try:
        return asyncio.run(handler(settings, args))
    except DatabaseUrlError as exc:
        _say(f"oak-maillist: invalid configuration: {exc}", err=True)
        return EXIT_CONFIG
    except AppError as exc:
        _say(f"oak-maillist: {exc.message}", err=True)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE


def _config_check(settings: Settings) -> int:
    _say(json.dumps(redacted(settings), indent=2, ensure_ascii=False))
    files = ", ".join(str(path) for path in settings.config_files) or "none"
    _say(f"# run mode: {settings.run_mode}; files: {files}", err=True)
    return 0


def _roles(value: str) -> set[str]:
    from oak_maillist.serve import ROLES

    roles = set(ROLES) if value == "all" else {part.strip() for part in value.split(",") if part}
    unknown = roles - set(ROLES)
    if unknown or not roles:
        raise SystemExit(f"oak-maillist: unknown role(s): {', '.join(sorted(unknown)) or value}")
    return roles


async def _serve(
    settings: Settings, args: argparse.Namespace, roles: set[str] | None = None
) -> int:
    from oak_maillist import serve

    roles = roles or _roles(getattr(args, "role", "all"))
    if (
        settings.queue.broker == "memory"
        and roles & {"worker", "scheduler"}
        and roles != set(serve.ROLES)
    ):
        log.warning(
            "memory_broker_outside_serve",
            hint="a separate worker or scheduler needs a shared broker ([queue] broker)",
        )
    runtime = Runtime.from_settings(settings)
    try:
        if getattr(args, "migrate", False):
            await migrate.upgrade(runtime.engine)
        state = await migrate.status(runtime.engine)
        if not state.is_current:
            log.warning(
                "migrations_pending",
                current=state.current,
                head=state.head,
                hint="run `oak-maillist migrate up`",
            )
        await warm_pool(runtime.engine, settings.database.min_connections)
    except OSError as exc:
        await runtime.close()
        _say(f"oak-maillist: cannot reach the database: {exc}", err=True)
        return EXIT_FAILURE
    await serve.run(runtime, roles)
    return 0


async def _shared_broker_role(settings: Settings, args: argparse.Namespace) -> int:
    """`worker` and `scheduler`: roles that only make sense with a broker other processes share."""
    role = args.command
    if settings.queue.broker == "memory":
        _say(
            f"oak-maillist: `{role}` needs a shared broker; set [queue] broker to redis:// or "
            "amqp:// (the memory broker runs jobs and the clock inside `serve`)",
            err=True,
        )
        return EXIT_CONFIG
    return await _serve(settings, args, {role})


async def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    logging.getLogger("alembic").setLevel(logging.INFO)  # show each revision applied
    runtime = Runtime.from_settings(settings)
    try:
        if args.action == "up":
            await migrate.upgrade(runtime.engine, args.revision)
        elif args.action == "down":
            await migrate.downgrade(runtime.engine, args.revision)
        state = await migrate.status(runtime.engine)
    finally:
        await runtime.close()
    _say(f"database revision: {state.current or '(empty)'}")
    _say(f"code head:         {state.head}")
    _say("up to date" if state.is_current else "migrations pending")
    return 0 if state.is_current or args.action != "status" else EXIT_FAILURE


async def _user(settings: Settings, args: argparse.Namespace) -> int:
    from oak_maillist.services import users

    password = sys.stdin.readline().rstrip("\r\n")
    runtime = Runtime.from_settings(settings)
    try:
        async with transaction(runtime.sessionmaker) as session:
            user = await users.create_user(
                session,
                email=args.email,
                password=password,
                settings=settings.security,
                display_name=args.name,
                role=SystemRole.ADMIN if args.admin else SystemRole.USER,
            )
    finally:
        await runtime.close()
    _say(f"created {'administrator' if args.admin else 'user'} {user.email} (id {user.id})")
    return 0


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "serve": _serve,
    "worker": _shared_broker_role,
    "scheduler": _shared_broker_role,
    "migrate": _migrate,
    "user": _user,
}
