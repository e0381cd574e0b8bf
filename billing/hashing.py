"""Keyed hashes for short secrets (SMS codes, ID-card last 4): HMAC-SHA256 under the server's key.

Why HMAC and not argon2: the secrets are tiny (10^6 codes, 11,000 ID-card endings). A salted slow
hash of a 4-character secret is reversed offline in 11,000 tries whatever its cost, so slowness buys
nothing; a key that is not in the database does: without it a copy of the database says nothing
about them. HMAC is also cheap and constant-time to check, so a check costs the same whether the
account exists or not.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

MIN_KEY_BYTES = 32
_SEP = "\x1f"  # unit separator: parts cannot run into each other


class VerifyKey:
    """The server's verification key; digests and checks short secrets under it."""

    def __init__(self, key: bytes):
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the verification key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key

    def digest(self, purpose: str, *parts: str) -> str:
        """Hex HMAC-SHA256 of the purpose and parts (the purpose keeps digests of one use apart)."""
        msg = _SEP.join((purpose, *parts)).encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def matches(self, stored: str | None, purpose: str, *parts: str) -> bool:
        """Whether `stored` is the digest of these parts; the same work when nothing is stored."""
        expected = self.digest(purpose, *parts)
        return hmac.compare_digest(stored or secrets.token_hex(32), expected)

    def random_digest(self) -> str:
        """A digest no input matches (for requests that must fail but look real)."""
        return self.digest("never", secrets.token_hex(32))


def load_key_file(path: Path) -> bytes:
    """The key kept in `path`, created (random, 32 bytes, mode 0600) when the file does not exist."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = bytes.fromhex(path.read_text().strip())
    else:
        key = secrets.token_bytes(MIN_KEY_BYTES)
        with os.fdopen(fd, "w") as f:
            f.write(key.hex() + "\n")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{path}: the verification key must be at least {MIN_KEY_BYTES} bytes of hex")
    return key
