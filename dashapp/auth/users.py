"""The users file: names, roles and werkzeug scrypt password hashes (never plain passwords)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

logger = logging.getLogger(__name__)

ROLES = ("analyst", "admin")
NAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")
MAX_PASSWORD_LEN = 1024
# Verified against when the user does not exist, so a miss costs the same time as a hit.
_DUMMY_HASH = generate_password_hash("not-a-real-password-1a9f", method="scrypt")


class UserFileError(ValueError):
    """The users file or a user entry is invalid."""


@dataclass(frozen=True)
class User:
    """A dashboard user as flask-login sees it."""

    name: str
    role: str
    password_hash: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    # flask-login protocol
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        """Session id: name plus a digest of the hash, so a password change ends old sessions."""
        return self._session_id

    @cached_property
    def _session_id(self) -> str:  # checked on every poll of every tab: hashed once per user object
        digest = hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]
        return f"{self.name}:{digest}"


def _parse(raw: bytes) -> dict[str, User]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise UserFileError(f"users file is not JSON: {exc}") from None
    entries = body.get("users", {}) if isinstance(body, dict) else None
    if not isinstance(entries, dict):
        raise UserFileError('users file: expected {"users": {name: {role, password_hash}}}')
    users: dict[str, User] = {}
    for name, entry in entries.items():
        if not isinstance(entry, dict) or entry.get("role") not in ROLES:
            raise UserFileError(f"users file: bad entry for {name!r}")
        pw_hash = entry.get("password_hash")
        if not isinstance(pw_hash, str) or not pw_hash.startswith(("scrypt:", "pbkdf2:")):
            raise UserFileError(f"users file: {name!r} has no werkzeug password hash")
        users[name] = User(name, entry["role"], pw_hash)
    return users


class UserDirectory:
    """Users loaded from a JSON file, re-read when the file changes.

    The file is checked (one stat) on a lookup at most every `recheck_s` seconds: the dashboard looks
    a user up on every poll of every tab, and each stat is a system call that gives up the GIL, which
    under hundreds of polls a second costs a wait for it (changes still apply within `recheck_s`).
    """

    def __init__(
        self, path: str | Path, recheck_s: float = 0.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = Path(path)
        self.recheck_s, self._clock = recheck_s, clock
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._checked = -math.inf
        self._users: dict[str, User] = {}

    def _current(self) -> dict[str, User]:
        now = self._clock()
        if now - self._checked < self.recheck_s:
            return self._users  # checked the file less than recheck_s ago
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._users = _parse(self.path.read_bytes()) if stamp else {}
                self._stamp = stamp
                logger.info("dashapp.users: loaded path=%s users=%d", self.path, len(self._users))
            self._checked = now  # after the load: no thread is served the users before it
            return self._users

    def get(self, name: str) -> User | None:
        """Return the user or None."""
        return self._current().get(name)

    def all(self) -> list[User]:
        """Every user, sorted by name."""
        return sorted(self._current().values(), key=lambda u: u.name)

    def verify(self, name: str, password: str) -> User | None:
        """Return the user if the password matches (costs one scrypt check, even for unknown users)."""
        if len(password) > MAX_PASSWORD_LEN:
            return None
        user = self.get(name)
        ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
        return user if ok and user else None


def add_user(path: str | Path, name: str, role: str, password: str) -> None:
    """Create or replace a user in the file (atomic write, mode 0600)."""
    if not NAME_RE.match(name):
        raise UserFileError("user name: 1-32 of a-z 0-9 _ . - starting with a letter")
    if role not in ROLES:
        raise UserFileError(f"role must be one of {', '.join(ROLES)}")
    if not 8 <= len(password) <= MAX_PASSWORD_LEN:
        raise UserFileError("password must have at least 8 characters")
    target = Path(path)
    existing = _parse(target.read_bytes()) if target.exists() else {}
    entries = {u.name: {"role": u.role, "password_hash": u.password_hash} for u in existing.values()}
    entries[name] = {"role": role, "password_hash": generate_password_hash(password, method="scrypt")}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".users-")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump({"users": entries}, fh, indent=2, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
