"""Single-node Apache Kafka (KRaft, broker+controller) from Maven Central jars, run with `java`."""

from __future__ import annotations

import base64
import logging
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from infra.procs import InfraError, port_in_use, read_pid, spawn, stop_pid, tail

logger = logging.getLogger(__name__)

KAFKA_VERSION = "4.1.2"  # keep in step with infra/kafka/pom.xml and docker-compose.yml
REPO_ROOT = Path(__file__).resolve().parent.parent
POM = REPO_ROOT / "infra" / "kafka" / "pom.xml"
LOG4J_CONFIG = REPO_ROOT / "infra" / "kafka" / "log4j2.properties"


@dataclass(frozen=True)
class KafkaConfig:
    """Where the local broker listens and keeps its files."""

    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 9093
    heap: str = "512m"
    libs_cache: Path = REPO_ROOT / ".cache" / f"kafka-{KAFKA_VERSION}" / "libs"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "kafka.log"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "kraft-logs"


def java_major() -> int:
    """Major version of the `java` on PATH; InfraError when missing."""
    if shutil.which("java") is None:
        raise InfraError("java not found: install a Java 17+ runtime (Debian: openjdk-17-jre-headless)")
    out = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise InfraError(f"cannot read the Java version from: {out.strip()[:200]}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def ensure_libs(cfg: KafkaConfig) -> Path:
    """Resolve the broker classpath with Maven once; later calls use the cache offline."""
    marker = cfg.libs_cache / ".complete"
    if marker.exists():
        return cfg.libs_cache
    if shutil.which("mvn") is None:
        raise InfraError("mvn not found: install Maven (Debian: apt-get install maven)")
    cfg.libs_cache.mkdir(parents=True, exist_ok=True)
    logger.info("kafka: resolving Kafka %s jars from Maven Central into %s", KAFKA_VERSION, cfg.libs_cache)
    result = subprocess.run(
        [
            "mvn",
            "-B",
            "-q",
            "-f",
            str(POM),
            "package",
            f"-Dlibs.dir={cfg.libs_cache}",
            f"-Dkafka.version={KAFKA_VERSION}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise InfraError(
            "Maven could not download the Kafka jars (network or Maven Central down?):\n"
            + (result.stdout + result.stderr)[-2000:]
        )
    jars = {p.name for p in cfg.libs_cache.glob("*.jar")}
    needed = [f"kafka_2.13-{KAFKA_VERSION}.jar", f"kafka-clients-{KAFKA_VERSION}.jar", "slf4j-api-1.7.36.jar"]
    missing = [j for j in needed if j not in jars]
    if missing:
        raise InfraError(f"Kafka classpath incomplete after Maven: missing {missing}")
    marker.write_text(KAFKA_VERSION)
    return cfg.libs_cache


def _server_properties(cfg: KafkaConfig) -> str:
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{cfg.host}:{cfg.controller_port}",
            f"listeners=PLAINTEXT://{cfg.host}:{cfg.port},CONTROLLER://{cfg.host}:{cfg.controller_port}",
            f"advertised.listeners=PLAINTEXT://{cfg.host}:{cfg.port}",
            "inter.broker.listener.name=PLAINTEXT",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={cfg.data_dir}",
            "num.partitions=3",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            "log.retention.hours=24",
            "log.segment.bytes=67108864",
            "",
        ]
    )


def _java_cmd(cfg: KafkaConfig, libs: Path, main: str, *args: str) -> list[str]:
    # The storage tool is short-lived: a small heap and C1 only make it start faster.
    jvm = (
        [f"-Xms{cfg.heap}", f"-Xmx{cfg.heap}", "-XX:+UseG1GC"]
        if main == "kafka.Kafka"
        else ["-Xmx256m", "-XX:TieredStopAtLevel=1"]
    )
    return [
        "java",
        *jvm,
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        f"-Dkafka.logs.dir={cfg.state_dir}",
        "-cp",
        f"{libs}/*",
        main,
        *args,
    ]


def _format_storage(cfg: KafkaConfig, libs: Path, props: Path) -> None:
    if (cfg.data_dir / "meta.properties").exists():
        return
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if cluster_id.startswith("-"):
        cluster_id = "A" + cluster_id[1:]
    result = subprocess.run(
        _java_cmd(cfg, libs, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props)),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise InfraError(f"kafka storage format failed:\n{(result.stdout + result.stderr)[-2000:]}")


def is_running(cfg: KafkaConfig) -> bool:
    return read_pid(cfg.pid_file) is not None


def start(cfg: KafkaConfig, timeout_s: float = 90.0) -> bool:
    """Start the broker unless ours already runs; wait until a client request succeeds.

    Returns True when this call started it.
    """
    if is_running(cfg):
        wait_ready(cfg.bootstrap, timeout_s)
        return False
    if java_major() < 17:
        raise InfraError("Kafka 4.x needs Java 17 or newer on PATH")
    for port in (cfg.port, cfg.controller_port):
        if port_in_use(cfg.host, port):
            raise InfraError(
                f"port {cfg.host}:{port} is already in use by another process; "
                "stop it or choose other ports (KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
            )
    libs = ensure_libs(cfg)
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    props = cfg.state_dir / "server.properties"
    props.write_text(_server_properties(cfg))
    _format_storage(cfg, libs, props)
    spawn(_java_cmd(cfg, libs, "kafka.Kafka", str(props)), cfg.log_file, cfg.pid_file)
    try:
        wait_ready(cfg.bootstrap, timeout_s, pid_file=cfg.pid_file)
    except InfraError:
        stop_pid(cfg.pid_file, "kafka", timeout_s=10)
        raise InfraError(
            f"Kafka did not become ready within {timeout_s:.0f}s; last log lines:\n" + tail(cfg.log_file)
        ) from None
    return True


@contextmanager
def _quiet_kafka_logs() -> Iterator[None]:
    """Refused connections are expected while the broker starts; kafka-python logs each at ERROR."""
    kafka_logger = logging.getLogger("kafka")
    previous = kafka_logger.level
    kafka_logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        kafka_logger.setLevel(previous)


def wait_ready(bootstrap: str, timeout_s: float, pid_file: Path | None = None) -> None:
    """Poll until a real metadata request to the broker succeeds (an open port is not enough)."""
    from kafka import KafkaAdminClient  # imported late: infra must load without the venv for `down`
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout_s
    with _quiet_kafka_logs():
        while time.monotonic() < deadline:
            if pid_file is not None and read_pid(pid_file) is None:
                raise InfraError("the Kafka process exited during start-up")
            try:
                admin = KafkaAdminClient(
                    bootstrap_servers=bootstrap, request_timeout_ms=5000, bootstrap_timeout_ms=3000
                )
                try:
                    admin.describe_cluster()
                    return
                finally:
                    admin.close()
            except (KafkaError, OSError, ValueError):
                time.sleep(0.5)
    raise InfraError(f"Kafka at {bootstrap} not ready within {timeout_s:.0f}s")


def stop(cfg: KafkaConfig) -> bool:
    """Controlled shutdown (SIGTERM, then SIGKILL after 30 s); True if it was running."""
    return stop_pid(cfg.pid_file, "kafka", timeout_s=30)


def rss_mb(cfg: KafkaConfig) -> float | None:
    """Resident memory of the broker in MB (Linux /proc), for the start-up report."""
    pid = read_pid(cfg.pid_file)
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
