"""Topics and payloads of docs/protocol.md, version 1, as the meter speaks them."""

VERSION = 1


def topic(prefix, meter_id, kind):
    """`{prefix}/{meter_id}/{kind}` with kind one of readings, status, config."""
    return "%s/%s/%s" % (prefix, meter_id, kind)


def litres(total_ml):
    """Exact decimal text of a millilitre count, in litres."""
    return "%d.%03d" % (total_ml // 1000, total_ml % 1000)


def _put(buf, i, text):
    n = len(text)
    buf[i:i + n] = text
    return i + n


def batch_open(buf, meter_id, boot):
    """Start a reading-batch payload in the preallocated buffer buf; return the write position."""
    return _put(buf, 0, b'{"v":1,"meter":"%s","boot":%d,"r":[' % (meter_id, boot))


def batch_add(buf, i, seq, ts, total_ml):
    """Append one reading at position i (a comma first unless it is the first); return the new position.

    Built in place, reading by reading, so a batch of 60 costs no list and no large string.
    """
    if buf[i - 1] != 0x5B:  # [
        buf[i] = 0x2C  # ,
        i += 1
    return _put(buf, i, b'{"seq":%d,"ts":%d,"total_l":%d.%03d}' % (seq, ts, total_ml // 1000, total_ml % 1000))


def batch_close(buf, i):
    """End the payload; return its length."""
    return _put(buf, i, b"]}")


def status(state, **fields):
    """Status payload (birth, last will, config result)."""
    import json

    doc = {"v": VERSION, "state": state}
    doc.update(fields)
    return json.dumps(doc)


def discovery_topic(ha_prefix, meter_id):
    """Home Assistant MQTT discovery topic of the meter's total sensor."""
    return "%s/sensor/wm_%s/total/config" % (ha_prefix, meter_id)


# Home Assistant discovery, as a template: a nested dict and json.dumps would cost
# several times the payload's size in short-lived heap.
_DISCOVERY = (
    '{"name":"Water total","unique_id":"wm_%(m)s_total","object_id":"wm_%(m)s_total",'
    '"state_topic":"%(r)s","value_template":"{{ value_json.r[-1].total_l }}",'
    '"unit_of_measurement":"L","device_class":"water","state_class":"total_increasing",'
    '"availability_topic":"%(s)s","availability_template":"{{ value_json.state }}",'
    '"payload_available":"online","payload_not_available":"offline",'
    '"device":{"identifiers":["wm_%(m)s"],"name":"Water meter %(m)s","manufacturer":"watermeter",'
    '"model":"pulse meter","sw_version":"%(fw)s"}}'
)


def discovery(meter_id, readings_topic, status_topic, fw):
    """Home Assistant discovery payload: a water total sensor fed by the readings batches."""
    return _DISCOVERY % {"m": meter_id, "r": readings_topic, "s": status_topic, "fw": fw}
