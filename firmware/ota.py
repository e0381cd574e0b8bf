"""Over-the-air updates of the firmware's modules, file by file, into an A/B pair of flash directories.

An update is announced on `wm/v1/{meter}/ota` (docs/protocol.md): version, HTTPS url, size,
SHA-256 and an RSA-2048 PKCS#1 v1.5 signature of that SHA-256. The board fetches the image
over verified TLS into the inactive slot (`slot_a` or `slot_b`), checks size, hash and
signature (public modulus provisioned as `ota_key.hex`), and only then points `ota.json`
at it with `pending` set. (The slots are `slot_a`/`slot_b`, not `ota/a`: a directory named like
a module in the current directory would shadow that module on import.) main.py (never updated over the air) boots the pending slot at
most 3 times and arms a timer: the new firmware must call confirm() (after it has
published to the broker) within `confirm_min` minutes, or the board goes back to the
previous slot. A power cut anywhere leaves ota.json old or new (one small-file write),
never half: the board boots a complete firmware either way.

Image format: repeated [name length: 1 byte][name][size: 4 bytes, little-endian][bytes].
"""

import struct

STATE_FILE = "ota.json"
_SHA256_DIGESTINFO = b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20"
_CHUNK = 512
_MAX_IMAGE = 400 * 1024


class OTAError(Exception):
    pass


def load_state(flash):
    st = flash.load_json(STATE_FILE)
    return st if isinstance(st, dict) else {"active": None, "pending": None, "tries": 0, "prev": None}


def save_state(flash, st):
    flash.save_json(STATE_FILE, st)


def rsa_verify(digest, sig, modulus):
    """True when sig is the PKCS#1 v1.5 RSA signature of a SHA-256 digest (public exponent 65537)."""
    k = (len("%x" % modulus) + 1) // 2  # MicroPython's int has no bit_length()
    if len(sig) != k:
        return False
    m = pow(int.from_bytes(sig, "big"), 65537, modulus)
    em = m.to_bytes(k, "big")
    t = _SHA256_DIGESTINFO + digest
    want = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return em == want


def _https_get(url, ca, timeout_s=20):
    """A socket streaming the body of an HTTPS GET (verified like the broker), and its length."""
    import socket

    import mqtt_client

    if not url.startswith("https://"):
        raise OTAError("only https:// updates")
    hostport, _, path = url[8:].partition("/")
    host, _, port = hostport.partition(":")
    raw = socket.socket()
    raw.settimeout(timeout_s)
    raw.connect(socket.getaddrinfo(host, int(port or 443))[0][-1])
    client = mqtt_client.MQTTClient("ota", host, 1, ssl=True, ca=ca)
    sock = client._wrap(raw)
    sock.write(b"GET /%s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path.encode(), host.encode()))
    line = sock.readline()
    if b" 200 " not in line:
        sock.close()
        raise OTAError("HTTP %s" % line[:40])
    length = None
    while True:
        line = sock.readline()
        if not line or line == b"\r\n":
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return sock, length


def _other(active):
    return "b" if active == "a" else "a"


def fetch(flash, announce, ca, modulus, feed=None):
    """Download, check and stage an announced update; the slot it went to. Raises OTAError."""
    import hashlib

    size = announce["size"]
    if not 0 < size <= _MAX_IMAGE:
        raise OTAError("size %d out of range" % size)
    st = load_state(flash)
    slot = _other(st.get("active"))
    root = "slot_" + slot
    flash.mkdir(root)
    for name in flash.listdir(root):  # whatever an interrupted update left there
        flash.remove(root + "/" + name)
    sock, length = _https_get(announce["url"], ca)
    h = hashlib.sha256()
    buf = bytearray(_CHUNK)
    got = 0
    try:
        if length is not None and length != size:
            raise OTAError("served %d bytes, announced %d" % (length, size))
        while got < size:  # entries: the header, then the file's bytes in chunks
            head = sock.read(1)
            n = head[0]
            name = sock.read(n)
            fsize = struct.unpack("<I", sock.read(4))[0]
            h.update(head)
            h.update(name)
            h.update(struct.pack("<I", fsize))
            got += 5 + n
            name = name.decode()
            if "/" in name or name.startswith(".") or name == "main.py":
                raise OTAError("bad file name %s" % name)
            with open(flash.path(root + "/" + name), "wb") as f:
                left = fsize
                while left:
                    k = sock.readinto(memoryview(buf)[:min(left, _CHUNK)])
                    if not k:
                        raise OTAError("image cut short")
                    h.update(memoryview(buf)[:k])
                    f.write(memoryview(buf)[:k])
                    left -= k
                    got += k
                    if feed is not None:
                        feed()
            flash.writes += 1
    finally:
        sock.close()
    digest = h.digest()
    import binascii

    if got != size or binascii.hexlify(digest).decode() != announce["sha256"]:
        _wipe(flash, root)
        raise OTAError("sha256 mismatch")
    if not rsa_verify(digest, binascii.unhexlify(announce["sig"]), modulus):
        _wipe(flash, root)
        raise OTAError("bad signature")
    st["prev"] = st.get("active")
    st["active"] = slot
    st["pending"] = announce["version"]
    st["tries"] = 0
    save_state(flash, st)  # the switch: one small-file write, atomic
    return slot


def _wipe(flash, root):
    for name in flash.listdir(root):
        flash.remove(root + "/" + name)


def confirm(flash):
    """The running update works (it has talked to the broker): keep it."""
    st = load_state(flash)
    if st.get("pending"):
        print("ota: %s confirmed" % st["pending"])
        st["pending"] = None
        st["tries"] = 0
        save_state(flash, st)
        return True
    return False


def pending(flash):
    return load_state(flash).get("pending")
