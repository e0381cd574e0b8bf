"""mosquitto on a free port, with persistence and queue limits sized for store outages."""

from __future__ import annotations

import getpass
import shutil
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

    @classmethod
    def secured(cls, broker_dir: Path, workdir: Path | None = None) -> Mosquitto:
        """A broker using a provisioned dir: passwords, ACL and a TLS listener (docs/ingest.md)."""
        return cls(
            workdir,
            passwd_file=broker_dir / "passwd",
            acl_file=broker_dir / "acl.conf",
            tls_dir=broker_dir / "tls",
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
