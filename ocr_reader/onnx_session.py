"""One way to open an ONNX model: onnxruntime on one thread (the reader's budget is one core).

A model may have a rewritten, faster copy (`onnx_fuse`, written by `make venv` into models/fused/).
The copy is used only while the SHA-256 it was stamped with is the original file's: a rapidocr
upgrade makes the old copy stale, and then the original runs.
"""

from __future__ import annotations

import hashlib
import logging
import os

log = logging.getLogger(__name__)

FUSED_DIR = os.path.join(os.path.dirname(__file__), "models", "fused")
SOURCE_KEY = "source_sha256"  # metadata of a rewritten model: the original it was made from


def sha256_of(path: str) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fused_path(original: str) -> str:
    """Where the rewritten copy of a model file goes."""
    return os.path.join(FUSED_DIR, os.path.basename(original))


def open_session(path: str | None):
    """An onnxruntime session for the model file, or None when the file or onnxruntime is missing."""
    if path is None or not os.path.exists(path):
        return None
    try:
        import onnxruntime as ort  # type: ignore[import-untyped]  # no stubs or py.typed
    except ImportError:
        return None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


def open_fused_or_original(original: str | None):
    """(session, path it came from): the rewritten copy of the model when it is current, else the original."""
    if original is None or not os.path.exists(original):
        return None, None
    copy = fused_path(original)
    if os.path.exists(copy):
        try:
            sess = open_session(copy)
        except Exception as e:  # onnxruntime's errors (InvalidProtobuf, Fail, ...) derive from Exception only
            log.warning("the rewritten model %s does not load (%s): running the original", copy, e)
            sess = None
        stamp = None if sess is None else sess.get_modelmeta().custom_metadata_map.get(SOURCE_KEY)
        if stamp == sha256_of(original):
            return sess, copy
    return open_session(original), original
