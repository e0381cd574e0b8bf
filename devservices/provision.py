"""`python -m devservices.provision METER_ID ...`: broker credentials, ACL, TLS, a meter's site_config.json.

Creates (once) in the broker directory: `passwd` (mosquitto_passwd), `acl.conf` (devservices/acl.py:
meters publish only their own topics; services by role — only the operator writes `config`) and `tls/`
(a CA and a server certificate made with the openssl CLI); then, per meter, a random password, its
registration in the meter registry (`--registry SQL_URL`), and the files the board needs:
site_config.json (with `config_key`, the meter's key for signed config commands: docs/protocol.md),
ca.crt (the CA the board verifies the broker and update server with) and, with --ota-key, ota_key.hex
(the public modulus its updates must be signed with).

On the board (docs/firmware.md, "Provision"): the firmware moves the secrets of the site
file (Wi-Fi and MQTT passwords) into NVS at its first boot and rewrites the file without
them; a board without a usable site file starts its set-up access point instead.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import re
import secrets
import shutil
import subprocess
from pathlib import Path

from devservices.acl import ROLES, mosquitto_acl

METER_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
SERVICES_FILE = "services.json"  # service user → role, from which acl.conf is generated


class ProvisionError(RuntimeError):
    """A provisioning step failed; the message names it."""


def _run(cmd: list[str]) -> None:
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    except FileNotFoundError as err:
        raise ProvisionError(f"{cmd[0]} is not installed (apt-get install mosquitto openssl)") from err
    except subprocess.CalledProcessError as err:
        raise ProvisionError(f"{' '.join(cmd[:2])} failed: {err.stderr.strip()[:300]}") from err


def ensure_tls(broker_dir: Path, hostnames: list[str], days: int = 3650) -> Path:
    """A CA and a server certificate for `hostnames` under broker_dir/tls (kept if present)."""
    tls = broker_dir / "tls"
    if not (tls / "server.crt").exists():
        issue_cert(tls, "server", hostnames, days=days)
    return tls


def issue_cert(tls: Path, name: str, hostnames: list[str], client: bool = False, days: int = 3650) -> Path:
    """`tls/<name>.crt` and `.key` for `hostnames`, signed by `tls/ca.crt` (made first if missing); with
    `client` the certificate also authenticates its holder as a client (a cluster node dialling a route)."""
    tls.mkdir(parents=True, exist_ok=True)
    if not (tls / "ca.crt").exists():
        _run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                str(days),
                "-subj",
                "/CN=wm-ca",
                "-keyout",
                str(tls / "ca.key"),
                "-out",
                str(tls / "ca.crt"),
            ]
        )
        (tls / "ca.key").chmod(0o600)
    key, csr, ext, crt = (tls / f"{name}.{x}" for x in ("key", "csr", "ext", "crt"))
    _run(
        [
            "openssl",
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={hostnames[0]}",
            "-keyout",
            str(key),
            "-out",
            str(csr),
        ]
    )
    key.chmod(0o600)
    sans = ",".join(f"IP:{h}" if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", h) else f"DNS:{h}" for h in hostnames)
    usage = "serverAuth,clientAuth" if client else "serverAuth"
    ext.write_text(f"subjectAltName={sans}\nextendedKeyUsage={usage}\n")
    _run(
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(tls / "ca.crt"),
            "-CAkey",
            str(tls / "ca.key"),
            "-CAcreateserial",
            "-days",
            str(days),
            "-extfile",
            str(ext),
            "-out",
            str(crt),
        ]
    )
    return crt


def ensure_broker_dir(broker_dir: Path) -> None:
    """Password file and ACL in broker_dir (kept if present)."""
    broker_dir.mkdir(parents=True, exist_ok=True)
    passwd = broker_dir / "passwd"
    if not passwd.exists():
        passwd.touch(mode=0o600)
    if not (broker_dir / "acl.conf").exists():
        _write_acl(broker_dir, {})


def _services(broker_dir: Path) -> dict[str, str]:
    path = broker_dir / SERVICES_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def _write_acl(broker_dir: Path, services: dict[str, str]) -> None:
    (broker_dir / SERVICES_FILE).write_text(json.dumps(services, indent=2, sort_keys=True) + "\n")
    (broker_dir / "acl.conf").write_text(mosquitto_acl(services))


def set_password(broker_dir: Path, user: str, password: str) -> None:
    """Add or replace a user in broker_dir/passwd (mosquitto_passwd; reload the broker after)."""
    _run(["mosquitto_passwd", "-b", str(broker_dir / "passwd"), user, password])


def add_service(broker_dir: Path, name: str, role: str = "ingest") -> str:
    """Credentials for a pipeline service with a role of devservices.acl.ROLES; returns its password."""
    if not METER_ID_RE.fullmatch(name):
        raise ProvisionError("service name must be 1-32 characters of [A-Za-z0-9_-]")
    if role not in ROLES:
        raise ProvisionError(f"role must be one of {', '.join(ROLES)}")
    ensure_broker_dir(broker_dir)
    password = secrets.token_urlsafe(24)
    set_password(broker_dir, name, password)
    services = _services(broker_dir)
    services[name] = role
    _write_acl(broker_dir, services)
    return password


def config_key(master_key: bytes, meter_id: str) -> str:
    """The meter's key for signed config commands (hex): HMAC-SHA256(master key, "wm-config:" + meter id)."""
    return hmac.new(master_key, f"wm-config:{meter_id}".encode(), hashlib.sha256).hexdigest()


def ensure_master_key(broker_dir: Path) -> bytes:
    """The operator's master key for config commands (32 random bytes, kept in broker_dir, 0600)."""
    path = broker_dir / "config_master.key"
    if not path.exists():
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()


def provision_meter(
    meter_id: str,
    broker_dir: Path,
    out: Path,
    broker_host: str,
    broker_port: int,
    tls: bool = True,
    wifi_ssid: str = "",
    wifi_password: str = "",
    mode: str = "mains",
    ota_key: Path | None = None,
) -> dict:
    """Create the meter's broker credentials and write its firmware site_config.json; returns it."""
    if not METER_ID_RE.fullmatch(meter_id):
        raise ProvisionError("meter id must be 1-32 characters of [A-Za-z0-9_-]")
    ensure_broker_dir(broker_dir)
    password = secrets.token_urlsafe(24)
    set_password(broker_dir, meter_id, password)
    site = {
        "meter_id": meter_id,
        "config_key": config_key(ensure_master_key(broker_dir), meter_id),
        "wifi_ssid": wifi_ssid,
        "wifi_password": wifi_password,
        "broker_host": broker_host,
        "broker_port": broker_port,
        "mqtt_user": meter_id,
        "mqtt_password": password,
        "mqtt_tls": tls,
        "mode": mode,
    }
    if mode not in ("mains", "battery"):
        raise ProvisionError("mode must be mains or battery")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(site, indent=2) + "\n")
    out.chmod(0o600)
    if tls:
        tls_dir = ensure_tls(broker_dir, [broker_host])
        shutil.copyfile(tls_dir / "ca.crt", out.parent / "ca.crt")  # the device pins our CA
    if ota_key is not None:
        from devservices.ota_image import make_key, modulus_hex

        modulus = modulus_hex(ota_key) if ota_key.exists() else make_key(ota_key)
        (out.parent / "ota_key.hex").write_text(modulus + "\n")
    return site


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devservices.provision", description=__doc__)
    p.add_argument("meter_ids", nargs="*", metavar="METER_ID")
    p.add_argument(
        "--broker-dir", type=Path, default=Path("broker"), help="passwd, acl.conf, tls/ (default ./broker)"
    )
    p.add_argument(
        "--out-dir",
        type=Path,
        default=Path("provisioned"),
        help="writes OUT_DIR/METER_ID/site_config.json (+ ca.crt)",
    )
    p.add_argument("--host", default="127.0.0.1", help="broker host name the meters connect to")
    p.add_argument("--port", type=int, default=8883)
    p.add_argument("--no-tls", action="store_true", help="plain MQTT (test benches only)")
    p.add_argument("--wifi-ssid", default="")
    p.add_argument("--wifi-password", default="")
    p.add_argument("--mode", choices=("mains", "battery"), default="mains")
    p.add_argument(
        "--ota-key",
        type=Path,
        default=None,
        help="RSA-2048 PEM key that signs updates (created if missing); writes ota_key.hex",
    )
    p.add_argument(
        "--service",
        action="append",
        default=[],
        metavar="NAME[:ROLE]",
        help=f"also create credentials for a service user; ROLE one of {', '.join(ROLES)} (default ingest)",
    )
    p.add_argument(
        "--registry", help="register the meters (active) in this SQL database (WM_STORAGE_SQL_URL)"
    )
    args = p.parse_args(argv)
    if not args.meter_ids and not args.service:
        p.error("name at least one METER_ID or --service")
    try:
        if not args.no_tls:
            ensure_broker_dir(args.broker_dir)
            ensure_tls(args.broker_dir, [args.host])
        for spec in args.service:
            name, _, role = spec.partition(":")
            role = role or "ingest"
            print(f"service {name} ({role}): password {add_service(args.broker_dir, name, role)}")
        if args.registry and args.meter_ids:
            from registry import Registry
            from storage.sql import Database

            Registry(Database(args.registry)).provision_many(args.meter_ids, "devservices.provision")
        for meter in args.meter_ids:
            out = args.out_dir / meter / "site_config.json"
            provision_meter(
                meter,
                args.broker_dir,
                out,
                args.host,
                args.port,
                tls=not args.no_tls,
                wifi_ssid=args.wifi_ssid,
                wifi_password=args.wifi_password,
                mode=args.mode,
                ota_key=args.ota_key,
            )
            print(f"meter {meter}: {out}")
    except ProvisionError as err:
        p.exit(1, f"provision: {err}\n")
    print(f"reload the broker to apply: kill -HUP $(pidof mosquitto)  (files in {args.broker_dir})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
