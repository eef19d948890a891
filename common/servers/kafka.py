"""A single-node Kafka in KRaft mode (broker and controller in one JVM) on loopback ports."""

from __future__ import annotations

import base64
import logging
import os
import re
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from conveyor.common.servers.java import java
from conveyor.common.servers.maven import kafka_home
from conveyor.common.servers.process import RunningServer, ServerProcess, free_port, port_open, run_checked

log = logging.getLogger(__name__)

HEAP = ["-Xms256m", "-Xmx768m"]

_LOG4J = """\
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={log}
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


@dataclass
class KafkaServer(RunningServer):
    """A running broker; `bootstrap` is its `host:port`. Stop it, or use it as a context manager."""

    bootstrap: str
    pid: int
    data_dir: Path
    _process: ServerProcess = field(repr=False)
    _remove_data_dir: bool = field(default=False, repr=False)
    # With `sasl_users`: the SASL_PLAINTEXT listener (SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN).
    sasl_bootstrap: str | None = None

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until clients can list topics and a transactional producer can initialise."""
        deadline = time.monotonic() + timeout
        port = int(self.bootstrap.rsplit(":", 1)[1])
        try:
            self._process.wait_until(lambda: port_open(port), deadline, "listening")
            self._process.wait_until(lambda: _broker_registered(self.bootstrap), deadline, "serving metadata")
            if not _transactions_ready(self.bootstrap, max(deadline - time.monotonic(), 1.0)):
                raise self._process.failure("had no transaction coordinator in time")
        except BaseException:
            self.stop()
            raise


def start_kafka(
    data_dir: Path | None = None,
    port: int | None = None,
    *,
    timeout: float = 120.0,
    sasl_users: dict[str, str] | None = None,
    super_users: list[str] | None = None,
) -> KafkaServer:
    """Start Kafka and wait until it is healthy.

    `data_dir` keeps the broker's logs and data across restarts; without one, a temporary folder
    is used and removed by `stop()`. Call from a thread that outlives the server (see `process`).
    `sasl_users` (name -> password) adds a SASL_PLAINTEXT listener at `sasl_bootstrap` that accepts
    them with SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN; `bootstrap` stays PLAINTEXT (inter-broker traffic
    and the health checks), as a cluster's internal listener would.
    `super_users` (SASL user names; needs `sasl_users`) turns on KRaft's `StandardAuthorizer`: a SASL user
    may then do only what ACLs allow, except these and the PLAINTEXT and controller listeners' `User:ANONYMOUS`
    (the inter-broker side and the tests' admin), which may do everything.
    """
    server = launch_kafka(data_dir, port, sasl_users=sasl_users, super_users=super_users)
    server.wait_ready(timeout)
    return server


def launch_kafka(
    data_dir: Path | None = None,
    port: int | None = None,
    *,
    sasl_users: dict[str, str] | None = None,
    super_users: list[str] | None = None,
) -> KafkaServer:
    """Start the Kafka process without waiting for it; `wait_ready()` does that."""
    remove = data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="conveyor-kafka-")) if data_dir is None else data_dir.absolute()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    controller_port = free_port()
    sasl_port = free_port() if sasl_users else None
    settings = _server_properties(data_dir / "data", port, controller_port)
    if sasl_users and sasl_port:
        settings.update(_sasl_properties(port, sasl_port, controller_port, sasl_users))
    if super_users is not None:
        settings.update(_authorizer_properties(super_users, sasl_users or {}))
    format_args = [f"--cluster-id={_cluster_id()}", *_scram_credentials(sasl_users or {})]
    process = spawn_node(f"Kafka on 127.0.0.1:{port}", data_dir, settings, format_args, HEAP)
    sasl_bootstrap = f"127.0.0.1:{sasl_port}" if sasl_port else None
    return KafkaServer(f"127.0.0.1:{port}", process.pid, data_dir, process, remove, sasl_bootstrap)


def spawn_node(
    name: str, data_dir: Path, settings: dict[str, str], format_args: list[str], heap: list[str]
) -> ServerProcess:
    """One Kafka process (a single broker, or a node of a cluster) in `data_dir`: its `server.properties` from
    `settings`, its log4j file, its storage formatted with `format_args` the first time only (a restart finds
    it formatted), then started."""
    home = kafka_home()
    properties = data_dir / "server.properties"
    properties.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    log4j = data_dir / "log4j.properties"
    log4j.write_text(_LOG4J.format(log=data_dir / "server.log"))
    classpath = ["-cp", str(home / "libs" / "*"), f"-Dlog4j.configuration={log4j.as_uri()}"]
    env = {key: value for key, value in os.environ.items() if key != "JAVA_TOOL_OPTIONS"}
    if not (data_dir / "data" / "meta.properties").exists():  # else formatted by an earlier run
        run_checked(
            f"formatting the storage of {name}",
            [java(), *classpath, "kafka.tools.StorageTool", "format", "-c", str(properties), *format_args],
            cwd=data_dir,
            env=env,
        )
    return ServerProcess(
        name,
        [java(), *heap, "-Djava.awt.headless=true", *classpath, "kafka.Kafka", str(properties)],
        log_path=data_dir / "console.log",
        server_log=data_dir / "server.log",
        cwd=data_dir,
        env=env,
    )


def _cluster_id() -> str:
    # What `kafka-storage random-uuid` prints: a UUID in URL-safe base64 without padding. It may start
    # with "-", hence `--cluster-id=` rather than `-t ID` on the command line.
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _server_properties(log_dir: Path, port: int, controller_port: int) -> dict[str, str]:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        **_common_properties(),
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "log.dirs": str(log_dir),
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        # One partition each: on one broker more only slow the first group join and transaction.
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.num.partitions": "1",
    }
    return settings


def _common_properties() -> dict[str, str]:
    """What a single broker and every node of a cluster (`kafka_cluster.py`) share."""
    return {
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "num.partitions": "3",
        "auto.create.topics.enable": "false",
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.segment.bytes": str(64 * 1024 * 1024),
        "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
    }


_SCRAM = ("SCRAM-SHA-256", "SCRAM-SHA-512")


def _sasl_properties(port: int, sasl_port: int, controller_port: int, users: dict[str, str]) -> dict[str, str]:
    """A SASL_PLAINTEXT listener beside the PLAINTEXT one; SCRAM users live in the metadata log
    (`_scram_credentials`), PLAIN users in the listener's JAAS configuration."""
    for name, password in users.items():
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or any(c in password for c in '",=[]\\\n'):
            raise ValueError(f"SASL user {name!r}: use simple names and passwords without quotes, commas or brackets")
    prefix = "listener.name.sasl_plaintext."
    plain_users = " ".join(f'user_{name}="{password}"' for name, password in users.items())
    return {
        "listeners": (
            f"PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl_port},CONTROLLER://127.0.0.1:{controller_port}"
        ),
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": ",".join([*_SCRAM, "PLAIN"]),
        **{f"{prefix}{m.lower()}.sasl.jaas.config": _jaas("scram.ScramLoginModule") for m in _SCRAM},
        f"{prefix}plain.sasl.jaas.config": _jaas("plain.PlainLoginModule", plain_users),
    }


AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def _authorizer_properties(super_users: list[str], sasl_users: dict[str, str]) -> dict[str, str]:
    """KRaft's ACL authorizer; what no ACL allows is refused. `User:ANONYMOUS` is whoever comes through a
    PLAINTEXT listener: the broker itself, its controller and the health checks."""
    unknown = [name for name in super_users if name not in sasl_users]
    if unknown:
        raise ValueError(f"super users {', '.join(unknown)} are not among the SASL users")
    return {
        "authorizer.class.name": AUTHORIZER,
        "super.users": ";".join(f"User:{name}" for name in ["ANONYMOUS", *super_users]),
        "allow.everyone.if.no.acl.found": "false",
    }


def _jaas(module: str, options: str = "") -> str:
    return f"org.apache.kafka.common.security.{module} required {options};".replace("  ", " ")


def _scram_credentials(users: dict[str, str]) -> list[str]:
    """StorageTool's `--add-scram` arguments: the SCRAM users are written into the bootstrap metadata."""
    return [f"--add-scram={m}=[name={name},password={password}]" for name, password in users.items() for m in _SCRAM]


def _quiet(client: str) -> logging.Logger:
    # librdkafka logs every refused connection on stderr unless given a logger of ours.
    return logging.getLogger(f"{__name__}.{client}")


def _broker_registered(bootstrap: str) -> bool:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap}, logger=_quiet("admin"))
    try:
        return bool(admin.list_topics(timeout=2).brokers)
    except KafkaException:
        return False


def _transactions_ready(bootstrap: str, timeout: float) -> bool:
    from confluent_kafka import KafkaException, Producer

    producer = Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": "conveyor-servers-health-check"},
        logger=_quiet("producer"),
    )
    try:
        producer.init_transactions(timeout)
    except KafkaException as error:
        log.warning("Kafka transactions not ready: %s", error)
        return False
    return True
