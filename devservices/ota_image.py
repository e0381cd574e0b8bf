"""Build, sign and announce firmware updates (firmware/ota.py): `python -m devservices.ota_image`.

The image is the compiled modules (main.py stays on the board: it is the loader), in the
format ota.py reads; the announcement carries its SHA-256 and an RSA-2048 PKCS#1 v1.5
signature made with the openssl CLI, whose public modulus boards hold as ota_key.hex.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from devservices.build_firmware import ESP32_MARCH, FIRMWARE_DIR, build


class ImageError(RuntimeError):
    """The image could not be built or signed."""


def make_key(path: Path) -> str:
    """A new RSA-2048 signing key at path (PEM); returns the public modulus as hex (ota_key.hex)."""
    subprocess.run(["openssl", "genrsa", "-out", str(path), "2048"], check=True, capture_output=True)
    path.chmod(0o600)
    return modulus_hex(path)


def modulus_hex(key: Path) -> str:
    out = subprocess.run(["openssl", "rsa", "-in", str(key), "-noout", "-modulus"], check=True,
                         capture_output=True, text=True).stdout
    return out.strip().split("=", 1)[1].lower()


def pack(files: dict[str, bytes]) -> bytes:
    """The image: [name length][name][size, 4 bytes LE][bytes] for each file."""
    out = bytearray()
    for name, data in sorted(files.items()):
        raw = name.encode()
        if len(raw) > 255 or "/" in name or name == "main.py":
            raise ImageError(f"bad file name in image: {name}")
        out += bytes([len(raw)]) + raw + struct.pack("<I", len(data)) + data
    return bytes(out)


def image_files(src: Path = FIRMWARE_DIR, march: str | None = ESP32_MARCH,
                replace: dict[str, str] | None = None) -> dict[str, bytes]:
    """Compiled modules of src (optionally with some sources replaced), main.py left out."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp, "src")
        work.mkdir()
        for f in src.glob("*.py"):
            (work / f.name).write_text((replace or {}).get(f.name, f.read_text()))
        out = Path(tmp, "out")
        build(out, march=march, src=work)
        return {f.name: f.read_bytes() for f in out.iterdir() if f.suffix == ".mpy"}


def sign(image: bytes, key: Path) -> str:
    """Hex RSA-2048 PKCS#1 v1.5 signature of the image's SHA-256."""
    with tempfile.NamedTemporaryFile() as f:
        f.write(image)
        f.flush()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key), f.name], check=True,
                             capture_output=True).stdout
    return sig.hex()


def announcement(image: bytes, version: str, url: str, key: Path) -> dict:
    """The `ota` message (docs/protocol.md)."""
    return {"v": 1, "version": version, "url": url, "size": len(image),
            "sha256": hashlib.sha256(image).hexdigest(), "sig": sign(image, key)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devservices.ota_image", description=__doc__)
    p.add_argument("--key", type=Path, required=True, help="RSA-2048 PEM signing key (created if missing)")
    p.add_argument("--version", required=True)
    p.add_argument("--url", required=True, help="where the boards will fetch the image (https://...)")
    p.add_argument("--out", type=Path, default=Path("build/ota.bin"))
    args = p.parse_args(argv)
    if not args.key.exists():
        print(f"new signing key {args.key}; put its modulus on every board as ota_key.hex:")
        print(make_key(args.key))
    image = pack(image_files())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(image)
    print(json.dumps(announcement(image, args.version, args.url, args.key)))
    print(f"publish that (retained, QoS 1) on wm/v1/<meter>/ota; serve {args.out} at the url",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
