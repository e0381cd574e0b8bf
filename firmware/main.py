"""Board entry point and OTA loader: compiled from source at every boot, never updated over the air.

It boots the firmware slot ota.json names (ota.py): a pending update at most 3 times, and
arms a timer that goes back to the previous firmware if the update has not confirmed
itself within confirm_min minutes.
"""

# The packet buffer first, while the heap is one piece.
packet = bytearray(4096 + 128)
_CONFIRM_MIN = 15
_TRIES = 3


def _rollback(st, why):
    import json

    print("ota: %s %s; back to the previous firmware" % (st.get("pending"), why))
    st["active"], st["pending"], st["tries"] = st.get("prev"), None, 0
    with open("ota.json", "w") as f:
        json.dump(st, f)


def _slot():
    import json
    import sys

    try:
        with open("ota.json") as f:
            st = json.load(f)
    except (OSError, ValueError):  # no update ever: the factory firmware
        return False
    if st.get("pending"):
        st["tries"] = st.get("tries", 0) + 1
        if st["tries"] > _TRIES:
            _rollback(st, "did not confirm itself")
        else:
            with open("ota.json", "w") as f:
                json.dump(st, f)
    if st.get("active"):
        sys.path.insert(0, "slot_" + st["active"])
    return bool(st.get("pending"))


def _deadline(_t):
    import json

    import machine

    try:
        with open("ota.json") as f:
            st = json.load(f)
    except (OSError, ValueError):
        return
    if st.get("pending"):
        _rollback(st, "not confirmed in %d min" % _CONFIRM_MIN)
        machine.reset()


if _slot():
    import machine

    machine.Timer(1).init(mode=machine.Timer.ONE_SHOT, period=_CONFIRM_MIN * 60000, callback=_deadline)

import startup  # noqa: E402

startup.run(packet)
