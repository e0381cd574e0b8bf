"""Board entry point: MicroPython runs main.py after boot."""

import gc
import sys

# The packet buffer first, while the heap is one piece.
packet = bytearray(4096 + 128)

# The site file is read and checked once; its checker is then unloaded to free RAM.
import siteconf  # noqa: E402

cfg = siteconf.load()
del sys.modules["siteconf"]
del siteconf
gc.collect()

# The modules one at a time with a collection after each, so their load-time garbage
# does not splinter the heap.
for _name in ("micropython", "struct", "json", "config", "hal", "store", "protocol", "mqtt_client", "app"):
    __import__(_name)
    gc.collect()

import app  # noqa: E402

app.main(cfg, packet)
