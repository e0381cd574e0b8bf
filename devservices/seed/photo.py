"""The pending photo: a resident photographs a demo meter while water runs, through the real upload route.

The photo shows the meter's own register (so it is plausible against the seeded history) with the last
red wheel half-way between two digits; the reader asks the resident to confirm such a reading instead
of storing it. If a render is read surely after all, another one is sent (another random view of the
same register, at most a few tries). Not a blurrier one: that made the reader lose wheels, and the demo's
pending photo then proposed a reading hundreds of litres off (1 of 24 registers, tests/devservices).
"""

from __future__ import annotations

import httpx
import numpy as np

from ocr_reader.synth import PhotoParams, render_photo

WHEELS, RED_WHEELS = 8, 3  # 00456.789 m³: five black wheels, three red (litres)


def meter_photo(total_ml: int, attempt: int, seed: int = 5) -> bytes:
    """A JPEG of a meter showing total_ml with its last wheel rolling (each attempt another view)."""
    rng = np.random.default_rng(seed * 101 + attempt)
    params = PhotoParams(
        max_tilt_deg=12.0, max_rot_deg=8.0, max_blur_sigma=1.0, glare_prob=0.0, dirt_prob=0.0
    )
    photo, _truth = render_photo(rng, "heldout", params, shown=(total_ml / 1000 + 0.5, WHEELS, RED_WHEELS))
    return photo


def upload_pending(base_url: str, token: str, meter_id: str, total_ml: int, tries: int = 6) -> dict:
    """Upload until a photo waits for confirmation; its upload record (the last one if none did)."""
    rec: dict = {}
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as c:
        for attempt in range(tries):
            resp = c.post(
                f"/v1/meters/{meter_id}/photos",
                files={"photo": ("meter.jpg", meter_photo(total_ml, attempt), "image/jpeg")},
            )
            resp.raise_for_status()
            rec = resp.json()
            if rec.get("status") == "needs_confirmation":
                return rec
    return rec
