"""One way to open an ONNX model: onnxruntime on one thread (the reader's budget is one core)."""

from __future__ import annotations

import os


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
