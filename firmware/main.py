"""Board entry point (compiled from source at every boot, so it stays this small)."""

# The packet buffer first, while the heap is one piece.
packet = bytearray(4096 + 128)

import startup  # noqa: E402

startup.run(packet)
