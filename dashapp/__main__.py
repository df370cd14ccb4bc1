"""CLI: `python -m dashapp users add|list|ensure-admin`, `tokens create|list|revoke`, `serve` (dev)."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import secrets
import sys

from common.settings import ConfigError, from_env
from dashapp.auth.tokens import TokenError
from dashapp.auth.users import ROLES, UserDirectory, UserFileError, add_user
from dashapp.rules_cli import add_commands as add_rules_commands
from dashapp.rules_cli import run as run_rules
from dashapp.settings import DashSettings


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise UserFileError("passwords do not match")
    return first


def _users(args: argparse.Namespace, settings: DashSettings) -> int:
    path = os.path.abspath(settings.dash_users_file)  # printed: which file (and so which deployment)
    if args.action == "add":
        add_user(path, args.name, args.role, _read_password(args.password_stdin))
        sys.stderr.write(
            f"user {args.name} ({args.role}) saved to {path}\n"
            "a dashboard reading this file lets them in within a second, without a restart\n"
        )
    elif args.action == "list":
        for user in UserDirectory(path).all():
            sys.stdout.write(f"{user.name}\t{user.role}\n")
    elif args.action == "ensure-admin":
        if any(u.is_admin for u in UserDirectory(path).all()):
            return 0
        password = os.environ.get("DASH_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        add_user(path, "admin", "admin", password)
        shown = "(from DASH_ADMIN_PASSWORD)" if os.environ.get("DASH_ADMIN_PASSWORD") else password
        sys.stderr.write(f"created user admin with password {shown} in {path}\n")
    return 0


def _tokens(args: argparse.Namespace, settings: DashSettings) -> int:
    """`tokens create|list|revoke`: the admin's side of per-user API tokens (dashapp/auth/tokens.py)."""
    from common.keys import RedisKeys
    from dashapp.app import redis_client
    from dashapp.auth.tokens import TokenStore

    store = TokenStore(redis_client(settings.redis_url), RedisKeys(settings.redis_key_prefix))
    if args.action == "create":
        if UserDirectory(settings.dash_users_file).get(args.user) is None:
            raise UserFileError(f"no user {args.user!r} in {os.path.abspath(settings.dash_users_file)}")
        info, secret = store.create(args.user, args.name)
        sys.stdout.write(secret + "\n")  # the only time it is shown: stdout, so it can be piped to a file
        sys.stderr.write(f"token {info.id} for {info.user} created; store it now, it is not shown again\n")
    elif args.action == "list":
        for t in store.all():
            sys.stdout.write(f"{t.id}\t{t.user}\t{t.name}\t{t.created_ms}\t{t.last_used_ms or '-'}\n")
    elif store.revoke(args.id) is None:
        sys.stderr.write(f"error: no token {args.id!r}\n")
        return 1
    return 0


def _serve(args: argparse.Namespace, settings: DashSettings) -> int:
    from dashapp.app import create_app, redis_client

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(settings, redis_client(settings.redis_url))
    app.run(host=args.host, port=args.port, debug=False, threaded=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m dashapp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    users = sub.add_parser("users", help="manage dashboard users (DASH_USERS_FILE)")
    users_sub = users.add_subparsers(dest="action", required=True)
    add = users_sub.add_parser("add", help="create or replace a user")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    users_sub.add_parser("list", help="list users and roles")
    users_sub.add_parser("ensure-admin", help="create user admin (DASH_ADMIN_PASSWORD) if no admin exists")
    tokens = sub.add_parser("tokens", help="per-user API tokens (Authorization: Bearer)")
    tokens_sub = tokens.add_subparsers(dest="action", required=True)
    create = tokens_sub.add_parser("create", help="create a token for USER; prints it once on stdout")
    create.add_argument("user")
    create.add_argument("--name", default="", help="what it is for, e.g. the script's name")
    tokens_sub.add_parser("list", help="id, user, name, created and last used (ms); never the token")
    revoke = tokens_sub.add_parser("revoke", help="revoke a token by its id (tok_...)")
    revoke.add_argument("id")
    add_rules_commands(sub)  # rules validate|export|apply, lists export|apply (dashapp.rules_cli)
    serve = sub.add_parser("serve", help="development server (use gunicorn in production)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8050)
    args = parser.parse_args(argv)
    if args.command in ("rules", "lists"):
        try:
            return run_rules(args)
        except ConfigError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 2
    try:
        settings = from_env(DashSettings)
        commands = {"users": _users, "tokens": _tokens, "serve": _serve}
        return commands[args.command](args, settings)
    except (UserFileError, ConfigError, TokenError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
