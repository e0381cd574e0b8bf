"""The compiled hot path (ingest/compiled.py) judges exactly as its sources do, and a stale build is caught.

`make venv` compiles the hot path with mypyc; the rest of the suite then tests the compiled modules. This
runs one hostile, varied stream of messages through the pipeline twice, in two processes — once as
compiled, once from the sources (`prefer_sources`) — and compares everything the pipeline decided: the
lines for the store, the rejections with their reasons and texts, the events, the state-log records, the
late writes and every meter's state after a restart from the logs. The same stream is first sent through
the MQTT packet reader (ingest/packets.py) as the socket would deliver it, in chunks that cut packets.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import re
import subprocess
import sys
from pathlib import Path

import orjson

from ingest import compiled

T0 = 1_764_000_000 + 3000  # 50 minutes into an hour: the stream crosses hour boundaries
_LINE = re.compile(r"^reading,meter=(\S+) total_l=([0-9.]+),.* (\d+)$")


def _stream() -> list[list[tuple[str, bytes, float, bool]]]:
    """Batches of (topic, payload, received_s, dup): in-order, batched, gaps, resets, drops, floods of
    one meter, duplicates, conflicts, late readings, strangers and every kind of bad payload."""

    def msg(meter: str, rs: list[tuple[int, int, float]], boot: int = 1, now: int = 0) -> tuple:
        body = {
            "v": 1,
            "meter": meter,
            "boot": boot,
            "r": [{"seq": s, "ts": t, "total_l": v} for s, t, v in rs],
        }
        return (f"wm/v1/{meter}/readings", orjson.dumps(body), float(now or T0 + 7200), False)

    batches: list[list[tuple]] = []
    for k in range(30):  # one batch per 3 minutes of the fleet
        b = []
        for i in range(40):
            m = f"c-{i:03d}"
            if i % 8 == 2:  # every minute, three readings per message
                rs = [(3 * k + j, T0 + 60 * (3 * k + j), round((3 * k + j) * 1.5 + i, 3)) for j in range(3)]
                b.append(msg(m, rs))
                continue
            seq = k + (3 if i % 11 == 5 and k >= 10 else 0)  # a gap of 3 seqs
            total = k * 3 * (1.5 + i % 7) + i + (1000 if i == 11 and k >= 15 else 0)  # 1000 L at once
            boot = 1
            if i % 9 == 4 and k >= 20:  # a reset: register set back 300 L, a new boot
                boot, total = 2, total - 300
            b.append(msg(m, [(seq, T0 + 180 * k, round(total, 3))], boot=boot))
        if k == 14:
            b.append(msg("c-001", [(3, T0 + 540, 3 * 3 * 2.5 + 1)]))  # a duplicate (same total)
            b.append(msg("c-001", [(6, T0 + 1080, 999.0)]))  # a conflict (another total)
            b.append(msg("c-003", [(1, T0 + 200, 4.5)]))  # late: never stored
            b.append(("wm/v1/c-002/readings", b"{not json", float(T0 + 7200), False))
            b.append(
                ("wm/v1/c-002/readings", b'{"v": true, "meter": "c-002", "boot": 1, "r": []}', 0.0, False)
            )
            b.append(msg("c-002", [(50, T0 + 3000, 1.2345)]))  # more than 3 decimals
            b.append(msg("c-002", [(51, T0 + 3060, -1.0)]))
            b.append(msg("c-002", [(52, T0 + 3120, 1e13)]))
            b.append(msg("c-002", [(54, T0 + 3240, 5.0), (53, T0 + 3300, 6.0)]))  # bad order
            b.append(msg("c-002", [(55, T0 + 10**6, 7.0)]))  # far in the future
            b.append(
                (
                    "wm/v1/c-004/readings",
                    orjson.dumps({"v": 1, "meter": "c-005", "boot": 1, "r": []}),
                    0.0,
                    False,
                )
            )
            b.append(("wm/v1/../readings", b"{}", 0.0, False))
            b.append(("wm/v1/ünï/readings", b"{}", 0.0, False))
            b.append(msg("stranger-1", [(1, T0, 1.0)]))  # not registered
            b.append(("wm/v1/c-006/readings", b"x" * 9000, 0.0, True))  # oversize, a redelivery
            boot_bool = {"v": 1, "meter": "c-007", "boot": True, "r": [{"seq": 1, "ts": T0, "total_l": 1}]}
            b.append(("wm/v1/c-007/readings", orjson.dumps(boot_bool), 0.0, False))
            for _k in range(8):  # c-008 floods with readings it does not owe (the same old one)
                b.append(msg("c-008", [(0, T0, 8.0)]))
        batches.append(b)
    return batches


def wire(chunk_bytes: int = 777) -> dict:
    """The stream as PUBLISH packets (QoS 1 with packet ids and DUP flags, every fifth QoS 0), a SUBACK and
    PINGRESPs among them, read back in chunks that cut packets anywhere; what the reader made of them."""
    from ingest.packets import PINGRESP, SUBACK, publish_packet, read_packets

    raw = bytearray(bytes([SUBACK << 4, 4, 0, 1, 1, 0x80]))
    for b in _stream():
        for k, (topic, payload, _r, dup) in enumerate(b):
            qos = 0 if k % 5 == 4 and not dup else 1
            packet = bytearray(publish_packet(topic, payload, qos=qos, mid=(k * 7919) % 65535 + 1))
            packet[0] |= 0x08 if dup and qos else 0
            raw += packet
        raw += bytes([PINGRESP << 4, 0])
    buf = bytearray()
    msgs: list[list] = []
    subacks: list[list[int]] = []
    for i in range(0, len(raw), chunk_bytes):
        buf += raw[i : i + chunk_bytes]
        out, suback, used = read_packets(buf, float(i))
        del buf[:used]
        if suback is not None:
            subacks.append(suback)
        for m in out:
            digest = hashlib.sha1(m.payload).hexdigest()
            msgs.append([m.topic, digest, len(m.payload), m.received_s, m.dup, m.mid])
    return {"messages": msgs, "subacks": subacks, "left": len(buf)}


def run(root: str) -> dict:
    """The stream through a Pipeline on an in-memory store; everything it decided, as JSON-able data."""
    from core.consumption import Rule
    from ingest.flood import FloodLimit
    from ingest.intake import DeviceIntake
    from ingest.pipeline import ActiveMeters, Msg, Partitions, Pipeline
    from storage.readings.influx import InfluxStore

    stored: dict[tuple[str, int], int] = {}
    late: list[list] = []
    lines: list[str] = []  # what the store was sent, in order

    class Memory(InfluxStore):
        def __init__(self) -> None:
            pass

        def is_empty(self) -> bool:
            return not stored

        def write_stream(self, batch: list[str]) -> None:
            lines.extend(batch)
            for line in batch:
                if m := _LINE.match(line):
                    stored[(m[1], int(m[3]))] = round(float(m[2]) * 1000)

        def write_late(self, readings):
            for r in readings:
                stored[(r.meter, r.ts_s)] = r.total_ml
                late.append(list(r[:5]))
            return {}

        def stored_totals(self, wanted):
            return {(m, t): stored[(m, t)] for m, ts in wanted.items() for t in ts if (m, t) in stored}

    class Registered(ActiveMeters):
        def __contains__(self, meter: object) -> bool:
            return isinstance(meter, str) and meter.startswith("c-")

    store = Memory()
    state_dir = os.path.join(root, "state")
    parts = Partitions(4, [0, 1, 2, 3], state_dir, store, fsync=False)
    pipe = Pipeline(
        store, DeviceIntake(), parts, Registered(), FloodLimit(3, 0.001), Rule(max_flow_lpm=60), 200
    )
    out: list[dict] = []
    for b in _stream():
        sent = len(lines)
        prep = pipe.prepare([Msg(t, p, r, d) for t, p, r, d in b], defer=False)
        parts.append(prep.frames)
        assert not prep.lines  # written by prepare (defer=False), into `lines`
        records = sorted(
            (list(rec) for f in prep.frames.values() for rec in marshal.loads(f[8:])), key=lambda x: x[0]
        )
        o = prep.out
        out.append(
            {
                "written": o.written,
                "rejections": [[r.topic, r.reason, r.detail] for r in o.rejections],
                "events": dict(sorted(o.events.items())),
                "missing": o.missing,
                "filled": o.filled,
                "newest": o.newest_ts_s,
                "records": records,
                "lines": lines[sent:],
            }
        )
    parts.close()
    again = Partitions(4, [0, 1, 2, 3], state_dir, store, fsync=False)
    states = {m: again.states[m].as_dict(m) for m in sorted(again.states)}
    again.close()
    return {
        "wire": wire(),
        "batches": out,
        "late": late,
        "stored": sorted([*k, v] for k, v in stored.items()),
        "states": states,
    }


def _in_child(pure: bool, root: Path) -> dict:
    code = (
        "import json, sys\n"
        "from ingest import compiled\n"
        + ("compiled.prefer_sources()\n" if pure else "")
        + "from tests.ingest.test_compiled import run\n"
        f"print(json.dumps({{'compiled': compiled.compiled(), 'result': run({str(root)!r})}}))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=compiled.ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_the_hot_path_is_compiled_where_make_built_it():
    """`make venv` (hence `make test`) compiles it; the suite then tests what the bench measures."""
    assert compiled.status() == "compiled", (
        f"the hot path runs as {compiled.status()}: run `make native` (devservices/native.py says why not)"
    )


def test_compiled_and_sources_decide_the_same(tmp_path):
    as_built = _in_child(False, tmp_path / "built")
    sources = _in_child(True, tmp_path / "sources")
    assert sources["compiled"] == [] and as_built["compiled"] == list(compiled.HOT_PATH)
    got, want = as_built["result"], sources["result"]
    # the stream exercised what it is meant to (else equality would prove little)
    events: dict[str, int] = {}
    for b in want["batches"]:
        for k, v in b["events"].items():
            events[k] = events.get(k, 0) + v
    reasons = {r[1] for b in want["batches"] for r in b["rejections"]}
    assert {"new", "duplicate", "conflict", "late", "gap", "reset", "new_boot", "impossible_flow"} <= set(
        events
    )
    assert {
        "malformed",
        "unknown_version",
        "bad_total",
        "bad_order",
        "bad_timestamp",
        "meter_mismatch",
    } <= reasons
    assert {"bad_topic", "unknown_meter", "oversize", "schema", "flood", "conflict"} <= reasons
    assert want["late"] and len(want["states"]) == 40
    sent = [(t, p, d) for b in _stream() for t, p, _r, d in b]
    read = want["wire"]["messages"]
    assert want["wire"]["subacks"] == [[1, 0x80]] and want["wire"]["left"] == 0
    assert [(m[0], m[1], m[2]) for m in read] == [
        (t, hashlib.sha1(p).hexdigest(), len(p)) for t, p, _d in sent
    ]
    assert sum(m[5] == 0 for m in read) > 100 and sum(m[4] for m in read) >= 1  # QoS 0 and redeliveries
    assert got["wire"] == want["wire"]
    lines = [x for b in want["batches"] for x in b["lines"]]
    assert sum("flow_lpm=" in x for x in lines) > 1000 and sum(x.startswith("usage_1h,") for x in lines) > 40
    for k, (a, b) in enumerate(zip(got["batches"], want["batches"], strict=True)):
        assert a == b, f"batch {k} differs"
    assert got == want


def test_a_build_older_than_its_source_is_stale(tmp_path):
    src = compiled.source_of("ingest.pipeline", tmp_path)
    src.parent.mkdir(parents=True)
    src.write_text("x = 1\n")
    ext = src.with_name("pipeline.cpython-311-x86_64-linux-gnu.so")
    ext.write_bytes(b"")
    os.utime(src, (1_000_000, 1_000_000))
    os.utime(ext, (2_000_000, 2_000_000))
    assert compiled.stale(tmp_path) == []
    os.utime(src, (3_000_000, 3_000_000))  # edited after the build
    assert compiled.stale(tmp_path) == ["ingest.pipeline"]


def test_prefer_sources_refuses_once_the_hot_path_is_imported():
    code = "from ingest import compiled\nimport ingest.pipeline\ncompiled.prefer_sources()\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=compiled.ROOT, timeout=60
    )
    assert done.returncode != 0 and "already imported" in done.stderr
