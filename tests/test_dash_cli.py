"""`python -m dashapp users ...` and start-up settings (secret key policy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.settings import ConfigError
from dashapp.__main__ import main
from dashapp.auth.users import UserDirectory
from dashapp.settings import DashSettings, resolve_secret_key
from tests.conftest import REPO_ROOT


def test_users_add_from_stdin_and_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    users_file = tmp_path / "u.json"
    env = {**os.environ, "DASH_USERS_FILE": str(users_file)}
    done = subprocess.run(
        [sys.executable, "-m", "dashapp", "users", "add", "carol", "--role", "admin", "--password-stdin"],
        input="carol-secret-1\n",
        text=True,
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "carol-secret-1" not in users_file.read_text()
    assert UserDirectory(users_file).verify("carol", "carol-secret-1") is not None
    monkeypatch.setenv("DASH_USERS_FILE", str(users_file))
    assert main(["users", "list"]) == 0
    assert capsys.readouterr().out == "carol\tadmin\n"


def test_users_add_rejects_short_password_and_bad_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASH_USERS_FILE", str(tmp_path / "u.json"))
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("short\n"))
    assert main(["users", "add", "dave", "--role", "analyst", "--password-stdin"]) == 2
    with pytest.raises(SystemExit):
        main(["users", "add", "dave", "--role", "root", "--password-stdin"])
    assert not (tmp_path / "u.json").exists()


def test_ensure_admin_creates_one_admin_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users_file = tmp_path / "u.json"
    monkeypatch.setenv("DASH_USERS_FILE", str(users_file))
    monkeypatch.setenv("DASH_ADMIN_PASSWORD", "first-admin-pw")
    assert main(["users", "ensure-admin"]) == 0
    before = users_file.read_text()
    monkeypatch.setenv("DASH_ADMIN_PASSWORD", "other-admin-pw")
    assert main(["users", "ensure-admin"]) == 0
    assert users_file.read_text() == before
    assert list(json.loads(before)["users"]) == ["admin"]
    assert UserDirectory(users_file).verify("admin", "first-admin-pw") is not None


def test_secret_key_is_required_unless_dev() -> None:
    with pytest.raises(ConfigError):
        resolve_secret_key(DashSettings())
    with pytest.raises(ConfigError):
        resolve_secret_key(DashSettings(dash_secret_key="short"))
    assert resolve_secret_key(DashSettings(dash_secret_key="x" * 32)) == "x" * 32
    one, two = (
        resolve_secret_key(DashSettings(dash_dev=True)),
        resolve_secret_key(DashSettings(dash_dev=True)),
    )
    assert len(one) >= 32 and one != two


def test_default_users_file_is_the_checkouts_whatever_the_working_directory() -> None:
    # `make run` (infra.run), gunicorn and `python -m dashapp users add` all fall back on it
    assert DashSettings().dash_users_file == str(REPO_ROOT / ".local" / "run" / "users.json")


def test_users_add_prints_the_absolute_path_it_wrote(tmp_path: Path) -> None:
    env = {**os.environ, "DASH_USERS_FILE": "u.json", "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "dashapp", "users", "add", "fay", "--role", "analyst", "--password-stdin"],
        input="fay-secret-12\n",
        text=True,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"saved to {tmp_path / 'u.json'}\n" in done.stderr
