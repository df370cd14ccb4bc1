"""docker-compose.yml is checked statically (no Docker engine here): it parses, its Python
services run real entry points, and every environment variable it sets is one the code reads."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.kafka_local import KAFKA_VERSION

ROOT = Path(__file__).resolve().parent.parent
PY_SERVICES = ("producer", "bridge", "dashapp", "notifier")
CODE_DIRS = ("common", "producer", "bridge", "dashapp", "notifier")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _python_files() -> list[Path]:
    return [p for d in CODE_DIRS for p in (ROOT / d).rglob("*.py")]


def _names_the_code_reads() -> set[str]:
    """Upper-case string constants plus upper-cased fields of settings dataclasses (from_env)."""
    names: set[str] = set()
    for path in _python_files():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            is_str = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if is_str and re.fullmatch(r"[A-Z][A-Z0-9_]{2,}", node.value):
                names.add(node.value)
            if isinstance(node, ast.ClassDef) and any(
                "dataclass" in ast.unparse(d) for d in node.decorator_list
            ):
                for stmt in node.body:
                    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                        names.add(stmt.target.id.upper())
    return names


def test_compose_has_the_full_stack_with_healthchecks(compose: dict) -> None:
    services = compose["services"]
    for name in ("kafka", "redis", *PY_SERVICES):
        assert name in services, name
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    for name in PY_SERVICES:
        deps = services[name]["depends_on"]
        assert all("condition" in spec for spec in deps.values()), name
    assert services["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"
    assert "--appendonly" in services["redis"]["command"]
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])


def _entry_points(command: list[str]) -> list[tuple[str, str | None]]:
    """(module, attribute) pairs a service command runs: `python -m X` and `gunicorn mod:attr`."""
    text = " ".join(command)
    found: list[tuple[str, str | None]] = [(m, None) for m in re.findall(r"python -m ([\w.]+)", text)]
    found += [(m, a) for m, a in re.findall(r"gunicorn .*?([\w.]+):(\w+)", text)]
    return found


@pytest.mark.parametrize("service", PY_SERVICES)
def test_python_service_commands_resolve_to_real_entry_points(compose: dict, service: str) -> None:
    spec = compose["services"][service]
    assert spec["build"] == "."
    entries = _entry_points(spec["command"])
    assert entries, f"{service}: no python entry point in {spec['command']}"
    for module, attr in entries:
        base = ROOT / module.replace(".", "/")
        if attr is None:
            assert (base / "__main__.py").is_file(), f"{service}: python -m {module} has no __main__"
        else:
            source = base.with_suffix(".py")
            assert source.is_file(), f"{service}: {module} not found"
            tree = ast.parse(source.read_text())
            assigned = {
                t.id
                for n in ast.walk(tree)
                if isinstance(n, ast.Assign)
                for t in n.targets
                if isinstance(t, ast.Name)
            }
            assert attr in assigned, f"{service}: {module} defines no {attr}"
    conf = re.search(r"-c (\S+\.py)", " ".join(spec["command"]))
    if conf:
        assert (ROOT / conf.group(1)).is_file()


@pytest.mark.parametrize("service", PY_SERVICES)
def test_every_environment_variable_is_read_by_the_code(compose: dict, service: str) -> None:
    readable = _names_the_code_reads()
    env = compose["services"][service].get("environment", {})
    unknown = sorted(name for name in env if name not in readable)
    assert not unknown, f"{service} sets variables no code reads: {unknown}"


def test_dockerfile_copies_every_service_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("common", *PY_SERVICES):
        assert f"COPY {package}/ {package}/" in dockerfile
    assert "requirements.txt" in dockerfile


def _local_imports(package: str) -> set[str]:
    """This repository's top-level packages that `package`'s modules import (at any depth in a module)."""
    local = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
    return found & local


def test_the_image_holds_every_package_the_services_import() -> None:
    """A service importing a package the image lacks dies at start in Compose only (bridge -> model)."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    needed = set().union(*(_local_imports(p) for p in ("common", *PY_SERVICES)))
    assert "model" in needed  # the bridge's model watcher and the dashboard's registry
    missing = sorted(p for p in needed if f"COPY {p}/ {p}/" not in dockerfile)
    assert not missing, f"the Dockerfile copies no {missing}"


# --- the Compose Specification's own loader (compose-go, as Docker Compose uses it) ---------------
COMPOSECHECK = ROOT / "infra" / "composecheck"


def _composecheck_binary(tmp_dir: Path) -> Path:
    """Build infra/composecheck once per session (modules from the Go proxy, then Go's build cache)."""
    if shutil.which("go") is None:
        if os.environ.get("CI"):
            pytest.fail("go is required in CI to validate docker-compose.yml with compose-go")
        pytest.skip("go not installed: compose-go validation needs it (infra/prereqs.sh installs it)")
    out = tmp_dir / "composecheck"
    subprocess.run(["go", "build", "-o", str(out), "."], cwd=COMPOSECHECK, check=True, timeout=600)
    return out


@pytest.fixture(scope="module")
def composecheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _composecheck_binary(tmp_path_factory.mktemp("composecheck"))


def _load(binary: Path, file: Path) -> tuple[int, str]:
    env = {**os.environ, "DASH_SECRET_KEY": "x" * 32, "DASH_ADMIN_PASSWORD": "compose-check"}
    args = [str(binary), str(file)]
    done = subprocess.run(args, check=False, env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def test_compose_go_loads_the_file(composecheck: Path) -> None:
    code, out = _load(composecheck, ROOT / "docker-compose.yml")
    assert code == 0, out
    assert {"kafka", "redis", *PY_SERVICES} <= set(out.split())


def test_compose_go_refuses_a_broken_file(composecheck: Path, tmp_path: Path) -> None:
    broken = (
        (ROOT / "docker-compose.yml").read_text().replace("services:", "services:\n  bad:\n    ports: [x]", 1)
    )
    (tmp_path / "docker-compose.yml").write_text(broken)
    code, out = _load(composecheck, tmp_path / "docker-compose.yml")
    assert code != 0 and "composecheck:" in out
