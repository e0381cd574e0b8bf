"""mosquitto on a free port, with persistence and queue limits sized for store outages."""

from __future__ import annotations

import getpass
import secrets
import shutil
import signal
import time
from pathlib import Path

from devservices.ports import free_port, wait_listening
from devservices.process import ServiceProcess

# An InfluxDB outage of 10 min at 16.7k readings/s is ~10M messages: queue limits are
# sized in bytes per client session, not by the default 1000 messages.
CONFIG = """\
user {user}
per_listener_settings false
allow_anonymous {anonymous}
{auth}
listener {port} 127.0.0.1
{tls}
persistence true
persistence_location {workdir}/
autosave_interval 30
max_inflight_messages {max_inflight}
max_queued_messages 0
max_queued_bytes {max_queued_bytes}
max_packet_size 65536
log_type error
log_type warning
"""


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if not found:
        raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
    return found


DEFAULT_SERVICES = {
    "wm-ingest": "ingest",
    "wm-operator": "operator",
    "wm-loadgen": "loadgen",
    "wm-alerts": "alerts",
    "wm-wmbus-gw": "wmbus-gateway",
    "wm-wmbus": "wmbus-ingest",
}


class Mosquitto(ServiceProcess):
    name = "mosquitto"

    def __init__(
        self,
        workdir: Path | None = None,
        port: int | None = None,
        max_inflight: int = 1000,
        max_queued_bytes: int = 2 * 1024**3,
        passwd_file: Path | None = None,
        acl_file: Path | None = None,
        tls_dir: Path | None = None,
    ):
        super().__init__(workdir)
        self.port = port or free_port()
        self.max_inflight = max_inflight
        self.max_queued_bytes = max_queued_bytes
        self.passwd_file = passwd_file
        self.acl_file = acl_file
        self.tls_dir = tls_dir  # ca.crt, server.crt, server.key (devservices.provision.ensure_tls)
        self.tls_port = free_port() if tls_dir else None
        self.credentials: dict[str, str] = {}

    @classmethod
    def closed(
        cls,
        workdir: Path,
        services: dict[str, str] | None = None,
        hosts: tuple[str, ...] = ("127.0.0.1",),
        **kw,
    ) -> Mosquitto:
        """A broker nobody uses anonymously: passwords, the ACL (devservices.acl) and a TLS device listener.

        `credentials` holds each service user's password (default services: wm-ingest, wm-operator,
        wm-loadgen); `add_meter()` gives a meter its own user.
        """
        from devservices.provision import add_service, ensure_tls

        broker_dir = workdir / "broker"
        services = services or DEFAULT_SERVICES
        creds = {name: add_service(broker_dir, name, role) for name, role in services.items()}
        ensure_tls(broker_dir, list(hosts))
        broker = cls.secured(broker_dir, workdir, **kw)
        broker.credentials = creds
        return broker

    def add_meter(self, meter_id: str) -> str:
        """A meter's own user (name = meter id) with a random password, live (the broker reloads)."""
        from devservices.provision import set_password

        assert self.passwd_file is not None, "an open broker has no users"
        password = secrets.token_urlsafe(18)
        set_password(self.passwd_file.parent, meter_id, password)
        self.reload()
        return password

    def add_meters(self, meter_ids: list[str]) -> dict[str, str]:
        """Many meters' users at once (one reload); meter id → password."""
        from devservices.provision import set_password

        assert self.passwd_file is not None, "an open broker has no users"
        out = {}
        for m in meter_ids:
            out[m] = secrets.token_urlsafe(18)
            set_password(self.passwd_file.parent, m, out[m])
        self.reload()
        return out

    def reload(self) -> None:
        """Re-read the password file and the ACL (SIGHUP)."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGHUP)
            time.sleep(0.3)

    @property
    def ca_file(self) -> Path | None:
        """The CA that signed the TLS listener's certificate."""
        return self.tls_dir / "ca.crt" if self.tls_dir else None

    @classmethod
    def secured(cls, broker_dir: Path, workdir: Path | None = None, **kw) -> Mosquitto:
        """A broker using a provisioned dir: passwords, ACL and a TLS listener (docs/ingest.md)."""
        return cls(
            workdir,
            passwd_file=broker_dir / "passwd",
            acl_file=broker_dir / "acl.conf",
            tls_dir=broker_dir / "tls",
            **kw,
        )

    @property
    def config_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    def command(self) -> list[str]:
        return [mosquitto_binary(), "-c", str(self.config_path)]

    def start(self) -> None:
        auth = ""
        if self.passwd_file:
            auth += f"password_file {self.passwd_file}\n"
        if self.acl_file:
            auth += f"acl_file {self.acl_file}\n"
        tls = ""
        if self.tls_dir:
            tls = (
                f"listener {self.tls_port} 127.0.0.1\ncafile {self.tls_dir}/ca.crt\n"
                f"certfile {self.tls_dir}/server.crt\nkeyfile {self.tls_dir}/server.key\n"
            )
        self.config_path.write_text(
            CONFIG.format(
                port=self.port,
                tls=tls,
                workdir=self.workdir,
                user=getpass.getuser(),
                max_inflight=self.max_inflight,
                max_queued_bytes=self.max_queued_bytes,
                auth=auth,
                anonymous="false" if self.passwd_file else "true",
            )
        )
        self._launch()
        try:
            wait_listening(self.port)
        except TimeoutError as err:
            raise RuntimeError(f"mosquitto did not start:\n{self.log_tail()}") from err

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"
