"""The PP-OCRv4 models rewritten for speed compute what the originals do; a stale copy is never run."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ocr_reader import onnx_fuse, onnx_session, textdet, textrec
from ocr_reader.decode import decode_photo


def _run(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def _const(name: str, value: float):
    return helper.make_node(
        "Constant", [], [name], value=numpy_helper.from_array(np.array(value, np.float32))
    )


def _paddle_like(pointwise_after: bool = True, opset: int = 12) -> bytes:
    """A block as Paddle2ONNX writes it: conv, scalar affine, four-op hard-swish, scalar affine, conv."""
    rng = np.random.default_rng(5)
    w1 = rng.normal(0, 0.5, (8, 3, 3, 3)).astype(np.float32)
    b1 = rng.normal(0, 0.5, 8).astype(np.float32)
    k2 = 1 if pointwise_after else 3
    w2 = rng.normal(0, 0.5, (4, 8, k2, k2)).astype(np.float32)
    b2 = rng.normal(0, 0.5, 4).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        _const("s", 1.7),
        helper.make_node("Mul", ["c1", "s"], ["m1"]),
        _const("t", -0.3),
        helper.make_node("Add", ["m1", "t"], ["a1"]),
        _const("three", 3.0),
        helper.make_node("Add", ["a1", "three"], ["h1"]),
        _const("zero", 0.0),
        _const("six", 6.0),
        helper.make_node("Clip", ["h1", "zero", "six"], ["h2"]),
        helper.make_node("Mul", ["a1", "h2"], ["h3"]),
        helper.make_node("Div", ["h3", "six"], ["hs"]),
        _const("a", 0.8),
        helper.make_node("Mul", ["hs", "a"], ["m2"]),
        _const("c", 0.25),
        helper.make_node("Add", ["m2", "c"], ["a2"]),
        helper.make_node(
            "Conv", ["a2", "w2", "b2"], ["y"], pads=[0, 0, 0, 0] if pointwise_after else [1, 1, 1, 1]
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "block",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3, None, None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in {"w1": w1, "b1": b1, "w2": w2, "b2": b2}.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model.SerializeToString()


def _ops(model_bytes: bytes) -> list[str]:
    return [n.op_type for n in onnx.load_from_string(model_bytes).graph.node if n.op_type != "Constant"]


def test_the_three_rewrites_leave_two_convolutions_and_one_hardswish():
    original = _paddle_like()
    fused, counts = onnx_fuse.fuse(original, "abc")
    assert counts == {"conv_affine": 1, "hardswish": 1, "affine_into_1x1": 1}
    assert _ops(original).count("Mul") == 3 and _ops(fused) == ["Conv", "HardSwish", "Conv"]
    x = np.random.default_rng(1).normal(0, 2, (2, 3, 17, 23)).astype(np.float32)
    assert np.abs(_run(fused, x) - _run(original, x)).max() < 1e-4
    meta = {p.key: p.value for p in onnx.load_from_string(fused).metadata_props}
    assert meta[onnx_session.SOURCE_KEY] == "abc"


def test_an_affine_before_a_padded_convolution_is_left_alone():
    """Folded into a 3x3 conv with zero padding it would be wrong along the borders."""
    original = _paddle_like(pointwise_after=False)
    fused, counts = onnx_fuse.fuse(original)
    assert counts["affine_into_1x1"] == 0 and counts["conv_affine"] == 1 and counts["hardswish"] == 1
    assert _ops(fused) == ["Conv", "HardSwish", "Mul", "Add", "Conv"]
    x = np.random.default_rng(2).normal(0, 2, (1, 3, 9, 11)).astype(np.float32)
    assert np.abs(_run(fused, x) - _run(original, x)).max() < 1e-4


def test_a_tensor_read_twice_is_not_folded_away():
    """A conv output that something else reads too must stay as it is."""
    model = onnx.load_from_string(_paddle_like())
    model.graph.output.append(helper.make_tensor_value_info("c1", TensorProto.FLOAT, None))
    original = model.SerializeToString()
    fused, counts = onnx_fuse.fuse(original)
    assert counts["conv_affine"] == 0
    x = np.random.default_rng(3).normal(0, 2, (1, 3, 8, 8)).astype(np.float32)
    assert np.abs(_run(fused, x) - _run(original, x)).max() < 1e-4


def test_the_venv_runs_the_rewritten_models():
    """`make venv` wrote them; were it to stop, the reader would silently be slower: this fails."""
    for module in (textdet, textrec):
        assert module.model_path() == onnx_session.fused_path(module.original_path())
        ops = _ops(open(module.model_path(), "rb").read())
        assert "HardSwish" in ops and "Clip" not in ops


def test_a_copy_made_from_another_original_is_not_run(tmp_path, monkeypatch):
    original = textdet.original_path()
    monkeypatch.setattr(onnx_session, "FUSED_DIR", str(tmp_path))
    stale, _ = onnx_fuse.fuse(_paddle_like(), "0" * 64)
    with open(onnx_session.fused_path(original), "wb") as f:
        f.write(stale)
    sess, path = onnx_session.open_fused_or_original(original)
    assert sess is not None and path == original
    os.remove(onnx_session.fused_path(original))
    assert onnx_session.open_fused_or_original(original)[1] == original


def test_a_copy_that_does_not_load_leaves_the_original_running(tmp_path, monkeypatch, caplog):
    """A truncated or damaged file must not take the reader down: the original runs, and it is said."""
    original = textrec.original_path()
    monkeypatch.setattr(onnx_session, "FUSED_DIR", str(tmp_path))
    with open(onnx_session.fused_path(original), "wb") as f:
        f.write(onnx_fuse.fuse(_paddle_like(), onnx_session.sha256_of(original))[0][:300])
    sess, path = onnx_session.open_fused_or_original(original)
    assert sess is not None and path == original
    assert "does not load" in caplog.text


@pytest.fixture(scope="module")
def originals():
    return (
        onnx_session.open_session(textdet.original_path()),
        onnx_session.open_session(textrec.original_path()),
    )


def test_the_detector_finds_the_same_rows(heldout_photos, originals, monkeypatch):
    fused_boxes, orig_boxes = [], []
    for data, _ in heldout_photos[:8]:
        bgr = decode_photo(data)
        fast, _ = textdet.probability_map(bgr)
        fused_boxes.append([(b.centre, b.size, b.angle_deg) for b in textdet.detect(bgr)])
        with monkeypatch.context() as m:
            m.setattr(textdet, "_session", lambda: originals[0])
            slow, _ = textdet.probability_map(bgr)
            orig_boxes.append([(b.centre, b.size, b.angle_deg) for b in textdet.detect(bgr)])
        assert np.abs(fast - slow).max() < 1e-4
    assert fused_boxes == orig_boxes and sum(map(len, fused_boxes)) >= 8


def test_the_recogniser_reads_the_same_rows(heldout_photos, originals, monkeypatch):
    texts = []
    chars = textrec._model()[1]
    for data, _ in heldout_photos[:8]:
        bgr = decode_photo(data)
        box = textdet.detect(bgr)[0]
        strip = bgr[
            int(max(0, box.centre[1] - box.size[1])) : int(box.centre[1] + box.size[1]),
            int(max(0, box.centre[0] - box.size[0] / 2)) : int(box.centre[0] + box.size[0] / 2),
        ]
        fast = textrec.read_row(strip)
        with monkeypatch.context() as m:
            m.setattr(textrec, "_model", lambda: (originals[1], chars))
            slow = textrec.read_row(strip)
        assert (fast is None) == (slow is None)
        if fast is not None and slow is not None:
            assert fast.text == slow.text and np.allclose(fast.probs, slow.probs, atol=1e-4)
            texts.append(fast.text)
    assert sum(any(ch.isdigit() for ch in t) for t in texts) >= 4, texts
