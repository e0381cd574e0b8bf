"""Meter photos: keep, read (ocr_reader), check, then store as a `photo` reading or ask to confirm.

A stored photo reading carries the recogniser's confidence in its own field (core.readings), so VEE's
photo rule can judge it; a reading a person confirmed or corrected carries confidence 1.0. A resident's
confirmation or correction is checked against the photo's candidates and the meter's readings
(dashboard_api.corrections); one that does not pass waits in the operators' review queue with both
values and is not stored.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from billing.access import Right
from core.errors import NotFound
from core.ids import METER_ID_PATTERN
from core.readings import Reading, Source
from core.units import ML_PER_M3, ml_from_m3
from dashboard_api.auth import Principal, UtilityCaller
from dashboard_api.corrections import candidates_of, check_correction, neighbours, unit_m3
from dashboard_api.deps import AnyCaller, DirectoryDep, SettingsDep, StoreDep, check_meter_visible
from dashboard_api.photos import PHOTO_ID_PATTERN, PhotoStore, RateLimiter
from dashboard_api.schemas import ConfirmIn, PhotoResultOut
from ocr_reader.api import BadImage, Previous, check_plausibility, read_photo
from storage.readings.base import Store

router = APIRouter(tags=["photos"])

MeterId = Annotated[str, Path(pattern=METER_ID_PATTERN)]
PhotoId = Annotated[str, Path(pattern=PHOTO_ID_PATTERN)]
# "The meter's latest reading": 2262-04-11, the last second InfluxDB can hold (int64 ns); a later bound
# (9999-12-31 was used) makes InfluxDB refuse the query ("overflowed duration") and every upload a 503.
END_OF_TIME_S = 9_223_372_035
CONFIRMED_CONFIDENCE = 1.0  # a person confirmed or typed the value
# Multipart framing around the photo: boundaries, headers, a file name.
MULTIPART_OVERHEAD_BYTES = 16 * 1024
BAD_IMAGE_STATUS = {"too_large": 413, "not_an_image": 415, "unsupported_format": 415}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["photo"],
                    "properties": {
                        "photo": {
                            "type": "string",
                            "format": "binary",
                            "description": "JPEG, PNG or WebP photo of the meter's counter",
                        },
                        "window": {
                            "type": "string",
                            "pattern": r"^[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+$",
                            "description": "guided capture: the frame the counter was aligned in, "
                            "x0,y0,x1,y1 as fractions of the photo (the reader looks there)",
                        },
                    },
                }
            }
        },
    }
}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or unknown token"},
    404: {"description": "no such meter (or not yours)"},
    411: {"description": "Content-Length missing"},
    413: {"description": "upload larger than the limit"},
    415: {"description": "not a JPEG, PNG or WebP image"},
    422: {"description": "no photo field, truncated image, decompression bomb, no meter or two meters"},
    429: {"description": "too many uploads; see Retry-After"},
    503: {"description": "store unavailable"},
}


def _photos(request: Request) -> PhotoStore:
    return request.app.state.photos


def _limiter(request: Request) -> RateLimiter:
    return request.app.state.photo_limiter


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused early by Content-Length and again while streaming (never more than limit held)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(400, "bad Content-Length")
        if int(declared) > limit:
            raise HTTPException(413, f"upload of {declared} bytes is over the {limit} byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"upload is over the {limit} byte limit")
    return bytes(body)


def parse_window(text: str | None) -> tuple[float, float, float, float] | None:
    """The guided-capture frame `x0,y0,x1,y1` (fractions of the photo), or None; 422 when malformed."""
    if text is None or not text.strip():
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError as err:
        raise HTTPException(422, "window is x0,y0,x1,y1: four fractions of the photo") from err
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        raise HTTPException(422, "window must satisfy 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")
    return (x0, y0, x1, y1)


async def _photo_field(request: Request, body: bytes) -> tuple[bytes, str | None]:
    async def replay():
        return {"type": "http.request", "body": body, "more_body": False}

    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise HTTPException(415, "send multipart/form-data with the photo in a field named `photo`")
    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=4)
    except HTTPException:
        raise
    except Exception as err:  # python-multipart raises several types for malformed bodies
        raise HTTPException(422, f"malformed multipart body: {err}") from err
    field = form.get("photo")
    if not isinstance(field, UploadFile):
        raise HTTPException(422, "no file in field `photo`")
    data = await field.read()
    window = form.get("window")
    await form.close()
    return data, window if isinstance(window, str) else None


def _previous(store: Store, meter_id: str) -> tuple[int | None, int | None]:
    """(total ml, ts) of the meter's latest reading, or (None, None)."""
    r = store.last_reading(meter_id, END_OF_TIME_S)
    return (None, None) if r is None else (r.total_ml, r.ts_s)


def _out(rec: dict) -> PhotoResultOut:
    at = rec.get("stored_ts_s")
    return PhotoResultOut(
        **{k: rec[k] for k in PhotoResultOut.model_fields if k in rec and k != "stored_reading_at"},
        stored_reading_at=datetime.fromtimestamp(at, UTC) if at else None,
    )


def _store_reading(store: Store, meter_id: str, ts_s: int, value_m3: float, confidence: float) -> None:
    reading = Reading(meter_id, ts_s, ml_from_m3(value_m3), 0, 0, Source.PHOTO, confidence)
    store.write_readings([reading])


def _check_rate(request: Request, caller: Principal) -> None:
    if caller.is_utility:
        return  # operators key in readings for whole estates; the limit protects against residents
    wait_s = _limiter(request).acquire(caller.subject)
    if wait_s:
        raise HTTPException(
            429, "too many photo uploads; try again later", headers={"Retry-After": str(wait_s)}
        )


@router.post(
    "/v1/meters/{meter_id}/photos",
    response_model=PhotoResultOut,
    status_code=201,
    openapi_extra=UPLOAD_BODY,
    responses=UPLOAD_ERRORS,
    summary="Upload a meter photo; stored as a reading when sure and plausible",
)
async def upload_photo(
    meter_id: MeterId,
    request: Request,
    caller: AnyCaller,
    store: StoreDep,
    directory: DirectoryDep,
    settings: SettingsDep,
) -> PhotoResultOut:
    # Uploading makes readings: holders only (a view or pay delegate gets 403, a stranger 404).
    await run_in_threadpool(check_meter_visible, caller, directory, meter_id, Right.HOLD)
    if caller.is_utility and not await run_in_threadpool(directory.meter_exists, meter_id):
        raise HTTPException(404, "meter not found")
    _check_rate(request, caller)
    body = await _read_body(request, settings.photo_max_bytes + MULTIPART_OVERHEAD_BYTES)
    data, window_text = await _photo_field(request, body)
    window = parse_window(window_text)
    del body
    if len(data) > settings.photo_max_bytes:
        raise HTTPException(413, f"photo is over the {settings.photo_max_bytes} byte limit")
    now_s = int(time.time())
    prev_ml, prev_ts = await run_in_threadpool(_previous, store, meter_id)
    prev_m3 = None if prev_ml is None else prev_ml / ML_PER_M3
    elapsed_s = None if prev_ts is None else max(now_s - prev_ts, 0)
    # The reader judges with the meter's history (docs/ocr.md, "Library API" 4): a reading below the last one
    # or beyond what the usage allows goes to review by the reader itself, and rows it rules out (a serial
    # number, the counter upside down) stop competing with the counter.
    previous = None if prev_m3 is None else Previous(prev_m3, elapsed_s, settings.photo_max_flow_m3_per_h)
    try:
        result = await run_in_threadpool(
            read_photo, data, window=window, previous=previous, max_bytes=settings.photo_max_bytes
        )
    except BadImage as err:
        raise HTTPException(BAD_IMAGE_STATUS.get(err.reason, 422), f"{err.reason}: {err}") from err
    plaus = None
    if result.value_m3 is not None:
        plaus = check_plausibility(result.value_m3, prev_m3, elapsed_s, settings.photo_max_flow_m3_per_h)
    photos = _photos(request)
    sha = await run_in_threadpool(photos.keep, data)
    rec = {
        "photo_id": photos.new_id(),
        "meter_id": meter_id,
        "sha256": sha,
        "uploaded_by": caller.subject,
        "uploaded_role": caller.role,
        "uploaded_ts_s": now_s,
        "reading": result.reading,
        "value_m3": result.value_m3,
        "confidence": float(result.confidence),
        "needs_review": bool(result.needs_review),
        "review_reason": result.reason,
        "plausible": bool(plaus and plaus.ok),
        "plausibility_reason": plaus.reason if plaus else "no_value",
        "previous_m3": prev_m3,
        "status": "needs_confirmation",
        "stored_ts_s": None,
        "candidates_m3": candidates_of(result.value_m3, result.alternatives),
        "decimals_dropped": int(result.decimals_dropped),
        "second_reader": result.second_reader or None,
        "views_agreeing": int(result.views_agreeing),
        "window": result.window_frac or None,
    }
    if plaus is not None and plaus.ok and not result.needs_review and result.value_m3 is not None:
        await run_in_threadpool(
            _store_reading, store, meter_id, now_s, result.value_m3, float(result.confidence)
        )
        rec.update(status="stored", stored_ts_s=now_s)
    await run_in_threadpool(photos.save_record, rec)
    return _out(rec)


def _visible_record(
    request: Request, caller: Principal, directory, photo_id: str, need: Right = Right.VIEW
) -> dict:
    rec = _photos(request).load_record(photo_id)
    if rec is None:
        raise HTTPException(404, "photo not found")
    try:
        check_meter_visible(caller, directory, rec["meter_id"], need)
    except NotFound as err:
        raise HTTPException(404, "photo not found") from err
    return rec


@router.get(
    "/v1/photos/{photo_id}",
    response_model=PhotoResultOut,
    summary="An upload's result",
    responses={401: {"description": "no or unknown token"}, 404: {"description": "no such photo"}},
)
def get_photo(
    photo_id: PhotoId, request: Request, caller: AnyCaller, directory: DirectoryDep
) -> PhotoResultOut:
    return _out(_visible_record(request, caller, directory, photo_id))


@router.get(
    "/v1/photos/{photo_id}/image",
    response_class=FileResponse,
    summary="The uploaded photo itself (for the person confirming or the operator reviewing it)",
    responses={
        200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}, "description": "the photo"},
        401: {"description": "no or unknown token"},
        404: {"description": "no such photo"},
    },
)
def get_photo_image(
    photo_id: PhotoId, request: Request, caller: AnyCaller, directory: DirectoryDep
) -> FileResponse:
    rec = _visible_record(request, caller, directory, photo_id)
    photos = _photos(request)
    path = photos.path_of(rec["sha256"])
    if path is None:
        raise HTTPException(404, "photo file not found")
    # Only photos the reader decoded are kept; still, never let a browser guess another type.
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return FileResponse(path, media_type=photos.media_type(path), headers=headers)


@router.post(
    "/v1/photos/{photo_id}/confirm",
    response_model=PhotoResultOut,
    summary="Confirm or correct a recognised reading; stored when it passes the checks",
    responses={
        202: {"description": "the value did not pass the checks: it waits for an operator (needs_operator)"},
        401: {"description": "no or unknown token"},
        403: {"description": "view or pay delegates may not confirm readings"},
        404: {"description": "no such photo"},
        409: {"description": "already stored, rejected, or waiting for an operator"},
        422: {"description": "no value to confirm, or not a finite number"},
        503: {"description": "store unavailable"},
    },
)
def confirm_photo(
    photo_id: PhotoId,
    body: ConfirmIn,
    request: Request,
    response: Response,
    caller: AnyCaller,
    store: StoreDep,
    directory: DirectoryDep,
    settings: SettingsDep,
) -> PhotoResultOut:
    rec = _visible_record(request, caller, directory, photo_id, Right.HOLD)
    if rec["status"] in ("stored", "confirmed", "rejected"):
        raise HTTPException(409, f"this photo's reading is already {rec['status']}")
    if rec["status"] == "needs_operator" and not caller.is_utility:
        raise HTTPException(409, "this photo's reading is waiting for an operator")
    value_m3 = body.value_m3 if body.value_m3 is not None else rec["value_m3"]
    if value_m3 is None:
        raise HTTPException(422, "no reading was recognised: send value_m3")
    ts_s = rec["uploaded_ts_s"]
    around = neighbours(store, rec["meter_id"], ts_s)
    candidates = rec.get("candidates_m3") or candidates_of(rec["value_m3"], [])
    check = check_correction(
        value_m3,
        candidates,
        unit_m3(rec.get("reading")),
        around,
        ts_s,
        settings.photo_max_flow_m3_per_h,
        settings.photo_correction_room_m3,
    )
    photos = _photos(request)
    if check is not None and not caller.is_utility:
        # A person typed it, but it fits neither the photo nor the meter: the utility's eye decides.
        rec.update(status="needs_operator", correction_m3=value_m3, correction_check=check)
        photos.save_record(rec)
        photos.queue_for_review(photo_id)
        response.status_code = 202
        return _out(rec)
    _store_reading(store, rec["meter_id"], ts_s, value_m3, CONFIRMED_CONFIDENCE)
    rec.update(
        status="confirmed",
        value_m3=value_m3,
        plausible=check is None,
        plausibility_reason=check,
        previous_m3=around.prev_m3,
        stored_ts_s=ts_s,
        confirmed_by=caller.subject,
    )
    photos.save_record(rec)
    photos.dequeue(photo_id)
    return _out(rec)


@router.post(
    "/v1/photos/{photo_id}/reject",
    response_model=PhotoResultOut,
    summary="Reject a photo's reading (utility): nothing is stored",
    responses={
        401: {"description": "no or unknown token"},
        403: {"description": "utility operators only"},
        404: {"description": "no such photo"},
        409: {"description": "already stored or rejected"},
    },
)
def reject_photo(
    photo_id: PhotoId, request: Request, caller: UtilityCaller, directory: DirectoryDep
) -> PhotoResultOut:
    rec = _visible_record(request, caller, directory, photo_id)
    if rec["status"] in ("stored", "confirmed", "rejected"):
        raise HTTPException(409, f"this photo's reading is already {rec['status']}")
    rec.update(status="rejected", rejected_by=caller.subject)
    photos = _photos(request)
    photos.save_record(rec)
    photos.dequeue(photo_id)
    return _out(rec)


@router.get(
    "/v1/photo-reviews",
    response_model=list[PhotoResultOut],
    summary="Readings waiting for an operator, oldest first (utility): the photo's and the resident's value",
    responses={401: {"description": "no or unknown token"}, 403: {"description": "utility operators only"}},
)
def photo_reviews(
    request: Request, _caller: UtilityCaller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[PhotoResultOut]:
    return [_out(r) for r in _photos(request).review_queue(limit)]
