"""Topics and payloads of docs/protocol.md, version 1, as the meter speaks them."""

VERSION = 1


def topic(prefix, meter_id, kind):
    """`{prefix}/{meter_id}/{kind}` with kind one of readings, status, config."""
    return "%s/%s/%s" % (prefix, meter_id, kind)


def litres(total_ml):
    """Exact decimal text of a millilitre count, in litres."""
    return "%d.%03d" % (total_ml // 1000, total_ml % 1000)


def batch(meter_id, boot, readings):
    """Reading-batch payload; readings are (seq, ts, total_ml) tuples, ascending seq."""
    parts = []
    for seq, ts, total_ml in readings:
        parts.append('{"seq":%d,"ts":%d,"total_l":%s}' % (seq, ts, litres(total_ml)))
    return '{"v":1,"meter":"%s","boot":%d,"r":[%s]}' % (meter_id, boot, ",".join(parts))


def status(state, **fields):
    """Status payload (birth, last will, config result)."""
    import json

    doc = {"v": VERSION, "state": state}
    doc.update(fields)
    return json.dumps(doc)
