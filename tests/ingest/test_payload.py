"""Every example and every bad input of docs/protocol.md, against ingest.payload."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ingest.payload import MAX_PAYLOAD_BYTES, PayloadError, meter_from_topic, parse_batch

NOW = 1_764_000_100
TOPIC = "wm/v1/m-0001/readings"
DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def good(**over) -> dict:
    doc = {"v": 1, "meter": "m-0001", "boot": 7, "r": [{"seq": 1440, "ts": 1764000000, "total_l": 12345.678}]}
    doc.update(over)
    return doc


def reading(**over) -> dict:
    r = {"seq": 1, "ts": 1764000000, "total_l": 1.5}
    r.update(over)
    return r


def enc(doc) -> bytes:
    return json.dumps(doc).encode()


def test_protocol_example_batch_parses_exactly():
    text = DOC.read_text()
    example = re.search(r'```json\n(\{"v": 1, "meter".*?)\n```', text, re.S).group(1)
    (r,) = parse_batch(TOPIC, example.encode(), now_s=NOW)
    assert (r.meter, r.seq, r.ts_s, r.total_ml, r.boot) == ("m-0001", 1440, 1764000000, 12345678, 7)


BAD = [
    # (case, topic, payload, reason)
    ("not utf-8", TOPIC, b"\xff\xfe{", "malformed"),
    ("not json", TOPIC, b'{"v": 1, "meter": ', "malformed"),
    ("json array", TOPIC, b"[1, 2]", "malformed"),
    ("json string", TOPIC, b'"hello"', "malformed"),
    ("empty", TOPIC, b"", "malformed"),
    ("v missing", TOPIC, enc({k: v for k, v in good().items() if k != "v"}), "unknown_version"),
    ("v 2", TOPIC, enc(good(v=2)), "unknown_version"),
    ("v string", TOPIC, enc(good(v="1")), "unknown_version"),
    # Issue 17: `true == 1` in Python and JavaScript, but it is not the integer 1.
    ("v true", TOPIC, enc(good(v=True)), "unknown_version"),
    ("v 1.0", TOPIC, enc(good(v=1.0)), "unknown_version"),
    (
        "seq descending",
        TOPIC,
        enc(good(r=[reading(seq=2, ts=1764000060), reading(seq=1, ts=1764000120)])),
        "bad_order",
    ),
    (
        "ts descending",
        TOPIC,
        enc(good(r=[reading(seq=1, ts=1764000060), reading(seq=2, ts=1764000000)])),
        "bad_order",
    ),
    (
        "same ts twice (the last would win)",
        TOPIC,
        enc(good(r=[reading(seq=1, total_l=777), reading(seq=2, total_l=1.0)])),
        "bad_order",
    ),
    ("same seq twice", TOPIC, enc(good(r=[reading(seq=1), reading(seq=1, ts=1764000060)])), "bad_order"),
    (
        "total over 64 bits",
        TOPIC,
        b'{"v":1,"meter":"m-0001","boot":1,"r":[{"seq":1,"ts":1764000000,'
        b'"total_l":123456789012345678901234567890}]}',
        "bad_total",
    ),
    ("meter missing", TOPIC, enc({k: v for k, v in good().items() if k != "meter"}), "meter_mismatch"),
    ("other meter", TOPIC, enc(good(meter="m-0002")), "meter_mismatch"),
    ("boot missing", TOPIC, enc({k: v for k, v in good().items() if k != "boot"}), "schema"),
    ("boot negative", TOPIC, enc(good(boot=-1)), "schema"),
    ("boot string", TOPIC, enc(good(boot="7")), "schema"),
    ("r missing", TOPIC, enc({k: v for k, v in good().items() if k != "r"}), "schema"),
    ("r empty", TOPIC, enc(good(r=[])), "schema"),
    (
        "r 61 readings",
        TOPIC,
        enc(good(r=[reading(seq=i, ts=1764000000 + 60 * i) for i in range(61)])),
        "schema",
    ),
    ("r not list", TOPIC, enc(good(r={"seq": 1})), "schema"),
    ("reading not object", TOPIC, enc(good(r=[1])), "schema"),
    ("seq missing", TOPIC, enc(good(r=[{"ts": 1764000000, "total_l": 1}])), "schema"),
    ("seq float", TOPIC, enc(good(r=[reading(seq=1.5)])), "schema"),
    ("seq bool", TOPIC, enc(good(r=[reading(seq=True)])), "schema"),
    ("seq over 2^32", TOPIC, enc(good(r=[reading(seq=2**32)])), "schema"),
    ("ts string", TOPIC, enc(good(r=[reading(ts="2025-11-24")])), "schema"),
    ("ts float", TOPIC, enc(good(r=[reading(ts=1764000000.5)])), "schema"),
    ("total string", TOPIC, enc(good(r=[reading(total_l="12")])), "schema"),
    ("total null", TOPIC, enc(good(r=[reading(total_l=None)])), "schema"),
    ("oversize", TOPIC, b" " * (MAX_PAYLOAD_BYTES + 1), "oversize"),
    ("ts before 2020", TOPIC, enc(good(r=[reading(ts=1577836799)])), "bad_timestamp"),
    ("ts zero", TOPIC, enc(good(r=[reading(ts=0)])), "bad_timestamp"),
    ("ts 301 s ahead", TOPIC, enc(good(r=[reading(ts=NOW + 301)])), "bad_timestamp"),
    ("ts year 2100", TOPIC, enc(good(r=[reading(ts=4102444800)])), "bad_timestamp"),
    ("total negative", TOPIC, enc(good(r=[reading(total_l=-0.001)])), "bad_total"),
    ("total over 1e12", TOPIC, enc(good(r=[reading(total_l=10**12 + 1)])), "bad_total"),
    ("total 4 decimals", TOPIC, enc(good(r=[reading(total_l=1.0001)])), "bad_total"),
    (
        "total infinity",
        TOPIC,
        b'{"v":1,"meter":"m-0001","boot":1,"r":[{"seq":1,"ts":1764000000,"total_l":Infinity}]}',
        "malformed",  # not JSON (RFC 8259 has no Infinity)
    ),
    (
        "total NaN",
        TOPIC,
        b'{"v":1,"meter":"m-0001","boot":1,"r":[{"seq":1,"ts":1764000000,"total_l":NaN}]}',
        "malformed",
    ),
    ("topic status", "wm/v1/m-0001/status", enc(good()), "bad_topic"),
    ("topic other prefix", "xx/v1/m-0001/readings", enc(good()), "bad_topic"),
    ("topic bad meter id", "wm/v1/m 0001/readings", enc(good()), "bad_topic"),
    ("topic meter id too long", f"wm/v1/{'a' * 33}/readings", enc(good()), "bad_topic"),
    ("topic extra level", "wm/v1/m-0001/readings/x", enc(good()), "bad_topic"),
]


@pytest.mark.parametrize(("case", "topic", "payload", "reason"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_has_its_reason(case, topic, payload, reason):
    with pytest.raises(PayloadError) as info:
        parse_batch(topic, payload, now_s=NOW)
    assert info.value.reason == reason, info.value.detail
    assert info.value.detail


def test_every_reason_code_in_protocol_doc_is_tested():
    table = DOC.read_text().split("## What the pipeline does with bad input", 1)[1]
    documented = set(re.findall(r"\| `([a-z_]+)` \|", table))
    # The worker's own reasons (tests/ingest/test_pipeline_attacks.py, test_flood.py) besides the parser's.
    assert {b[3] for b in BAD} | {"flood", "unknown_meter", "conflict", "series_limit"} == documented


def test_limits_are_inclusive():
    ok = enc(good(r=[reading(ts=1577836800, total_l=0), reading(seq=2, ts=NOW + 300, total_l=10**12)]))
    rs = parse_batch(TOPIC, ok, now_s=NOW)
    assert [r.total_ml for r in rs] == [0, 10**15]
    exact = b" " * (MAX_PAYLOAD_BYTES - len(enc(good()))) + enc(good())
    assert len(parse_batch(TOPIC, exact, now_s=NOW)) == 1


def test_litres_are_exact_millilitres():
    rs = parse_batch(
        TOPIC,
        enc(
            good(
                r=[
                    reading(total_l=0.001),
                    reading(seq=2, ts=1764000060, total_l=12345678.999),
                    reading(seq=3, ts=1764000120, total_l=7),
                ]
            )
        ),
        now_s=NOW,
    )
    assert [r.total_ml for r in rs] == [1, 12345678999, 7000]


def test_meter_from_topic_with_custom_prefix():
    assert meter_from_topic("site/a/wm/m_9/readings", "site/a/wm") == "m_9"


@pytest.mark.parametrize("text", ["a", "a" * 32, "a" * 33, "", "a b", "m-1_X", "mé", "m/1", "m\n", "+"])
def test_the_fast_meter_id_check_is_the_rule(text):
    from core.ids import METER_ID_RE, is_meter_id

    assert is_meter_id(text) == (METER_ID_RE.fullmatch(text) is not None)
