"""`python -m dashapp rules validate|export|apply` and `lists export|apply`: rules and lists kept in git."""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from common.rulelang import load_text, parse_document
from common.rules import RuleValidationError
from dashapp.store.list_csv import entries_from_csv
from dashapp.store.list_entries import EntryError, check_name

EXIT_INVALID, EXIT_USAGE = 1, 2
GZIP_ABOVE = 256 * 1024  # larger list files go gzip-compressed (the app takes 1 MB bodies)
TIMEOUT_S = 60.0


class CliError(Exception):
    """A failure to report on stderr with an exit code (1: refused input, 2: usage/auth/connection)."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def add_commands(sub: Any) -> None:
    """Add the `rules` and `lists` sub-commands to the dashapp parser."""
    remote = argparse.ArgumentParser(add_help=False)
    remote.add_argument("--url", help="dashboard base URL, e.g. https://fraud.example.com")
    remote.add_argument("--user", help="dashboard user (password: DASH_PASSWORD or --password-stdin)")
    remote.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    rules = sub.add_parser("rules", help="validate, export or apply the rules document")
    rules_sub = rules.add_subparsers(dest="action", required=True)
    validate = rules_sub.add_parser("validate", help="check a rules file offline (exit 1 if invalid)")
    validate.add_argument("file")
    export = rules_sub.add_parser("export", parents=[remote], help="print the live rules document")
    export.add_argument("--format", choices=("yaml", "json"), default="yaml")
    apply = rules_sub.add_parser("apply", parents=[remote], help="publish a rules file (admins)")
    apply.add_argument("file")
    apply.add_argument("--comment", default="", help="why (kept with the version)")
    apply.add_argument("--expected-version", type=int, help="refuse if the live version is another")
    lists = sub.add_parser("lists", help="export or apply a named list as CSV")
    lists_sub = lists.add_subparsers(dest="action", required=True)
    lexport = lists_sub.add_parser("export", parents=[remote], help="print a list as CSV")
    lexport.add_argument("name")
    lapply = lists_sub.add_parser("apply", parents=[remote], help="replace a list with a CSV file (admins)")
    lapply.add_argument("name")
    lapply.add_argument("file")
    lapply.add_argument("--comment", default="")


def run(args: argparse.Namespace) -> int:
    """Run one `rules`/`lists` command; report failures on stderr with their exit code."""
    try:
        if args.command == "rules":
            {"validate": _validate, "export": _export, "apply": _apply}[args.action](args)
        else:
            {"export": _list_export, "apply": _list_apply}[args.action](args)
    except CliError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.code
    return 0


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None


def _document(path: str) -> Any:
    """The file's document, validated offline (lists are checked by the server, which knows them)."""
    try:
        obj = load_text(_read(path))
        cfg = parse_document(obj)
    except RuleValidationError as exc:
        raise CliError(f"{path}: {exc}", EXIT_INVALID) from None
    return obj, cfg


def _validate(args: argparse.Namespace) -> None:
    _, cfg = _document(args.file)
    sys.stdout.write(
        f"{args.file}: valid ({len(cfg.custom)} custom rules, {len(cfg.suppressions)} suppressions)\n"
    )


def _export(args: argparse.Namespace) -> None:
    if args.url:
        body, _ = _call(args, "GET", f"/api/rules?format={args.format}")
        sys.stdout.write(body.decode("utf-8"))
        return
    # on the host: the live document straight from Redis (REDIS_URL, REDIS_KEY_PREFIX)
    import redis
    import yaml

    from common.keys import RedisKeys
    from common.settings import from_env
    from dashapp.app import redis_client
    from dashapp.settings import DashSettings
    from dashapp.store.rules_store import RulesStore

    settings = from_env(DashSettings)
    try:
        doc = RulesStore(redis_client(settings.redis_url), RedisKeys(settings.redis_key_prefix)).document()
    except (redis.RedisError, RuleValidationError) as exc:
        raise CliError(f"cannot read the rules from {settings.redis_url}: {exc}") from None
    as_json = json.dumps(doc, indent=2) + "\n"
    sys.stdout.write(yaml.safe_dump(doc, sort_keys=False) if args.format == "yaml" else as_json)


def _apply(args: argparse.Namespace) -> None:
    _document(args.file)  # refuse an invalid file before any network round trip
    query = {"comment": args.comment}
    if args.expected_version is not None:
        query["expected_version"] = str(args.expected_version)
    ctype = "application/json" if args.file.endswith(".json") else "application/yaml"
    data = _read(args.file).encode("utf-8")
    body, _ = _call(args, "PUT", f"/api/rules?{urlencode(query)}", data=data, ctype=ctype)
    answer = json.loads(body)
    state = "published" if answer.get("changed") else "unchanged (the live rules already are this file)"
    sys.stdout.write(f"rules {state}: version {answer.get('version')}\n")


def _list_export(args: argparse.Namespace) -> None:
    check = _name(args.name)
    body, _ = _call(args, "GET", f"/api/lists/{quote(check)}?format=csv")
    sys.stdout.write(body.decode("utf-8"))


def _list_apply(args: argparse.Namespace) -> None:
    name, text = _name(args.name), _read(args.file)
    try:
        count = len(entries_from_csv(text, 10_000_000))
    except EntryError as exc:
        raise CliError(f"{args.file}: {exc}", EXIT_INVALID) from None
    data, headers = text.encode("utf-8"), {}
    if len(data) > GZIP_ABOVE:
        data, headers = gzip.compress(data), {"Content-Encoding": "gzip"}
    path = f"/api/lists/{quote(name)}?{urlencode({'comment': args.comment})}"
    body, _ = _call(args, "PUT", path, data=data, ctype="text/csv", headers=headers)
    answer = json.loads(body)
    sys.stdout.write(
        f"list {name}: {answer.get('count')} entries (file had {count}), version {answer.get('version')}\n"
    )


def _name(raw: str) -> str:
    try:
        return check_name(raw)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = os.environ.get("DASH_PASSWORD")
    if not password:
        raise CliError("set DASH_PASSWORD or pass --password-stdin")
    return password


def _call(
    args: argparse.Namespace,
    method: str,
    path: str,
    *,
    data: bytes | None = None,
    ctype: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[bytes, int]:
    """One authenticated request; a 4xx/5xx answer becomes a CliError with the server's message."""
    if not args.url or not args.user:
        raise CliError("--url and --user are required")
    token = base64.b64encode(f"{args.user}:{_password(args)}".encode()).decode()
    req = urllib.request.Request(args.url.rstrip("/") + path, data=data, method=method)  # noqa: S310
    req.add_header("Authorization", f"Basic {token}")
    for name, value in {**({"Content-Type": ctype} if ctype else {}), **(headers or {})}.items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310 - the user's URL
            return resp.read(), resp.status
    except urllib.error.HTTPError as exc:
        raise CliError(
            _server_error(exc), EXIT_INVALID if exc.code in (400, 409, 413) else EXIT_USAGE
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CliError(f"cannot reach {args.url}: {exc}") from None


def _server_error(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
    except (ValueError, OSError):
        body = {}
    message = body.get("error", exc.reason) if isinstance(body, dict) else exc.reason
    return f"HTTP {exc.code}: {message}"
