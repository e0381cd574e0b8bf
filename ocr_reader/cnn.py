"""A small convolutional wheel classifier, run in plain numpy (training uses jax, see cnn_train.py).

Layers: three blocks of 3x3 convolution ("same" padding), ReLU and 2x2 max pooling, then a dense
ReLU layer and a softmax over 20 half-digit position bins plus "junk" (see positions.py).
Kernels are HWIO and the flattening NHWC, as in jax, so weights move over without reordering.
"""

from __future__ import annotations

import numpy as np

CONV_LAYERS = ("c1", "c2", "c3")
BATCH = 256  # crops per matmul batch: keeps the im2col copies cache-sized


def prepare(norm: np.ndarray) -> np.ndarray:
    """Normalised uint8 crops (N x H x W) to the network's float input (N x H x W x 1), centred."""
    return (norm.astype(np.float32) * (1.0 / 255.0) - 0.5)[..., None]


def conv3x3(a: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """'Same' 3x3 convolution (cross-correlation, as in jax) of a (C x N x H x W) by an HWIO kernel.

    Channels first, so the im2col copy and the matmul's output are both contiguous: several
    times faster in numpy than NHWC with few channels.
    """
    c, n, h, wd = a.shape
    ap = np.pad(a, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.empty((3, 3, c, n, h, wd), np.float32)
    for dy in range(3):
        for dx in range(3):
            cols[dy, dx] = ap[:, :, dy : dy + h, dx : dx + wd]
    out = w.reshape(9 * c, -1).T @ cols.reshape(9 * c, -1) + b[:, None]
    return out.reshape(-1, n, h, wd)


def pool2(a: np.ndarray) -> np.ndarray:
    """2x2 max pooling of (C x N x H x W); H and W are even by construction."""
    return np.maximum(
        np.maximum(a[:, :, 0::2, 0::2], a[:, :, 0::2, 1::2]),
        np.maximum(a[:, :, 1::2, 0::2], a[:, :, 1::2, 1::2]),
    )


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def forward(params: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dense-layer embedding, class probabilities) for prepared input x (N x H x W x 1), batched."""
    embs, probs = [], []
    for i in range(0, len(x), BATCH):
        a = x[i : i + BATCH, :, :, 0][None]
        for name in CONV_LAYERS:
            a = pool2(np.maximum(conv3x3(a, params[name + "_w"], params[name + "_b"]), 0.0))
        # Flatten in NHWC order, as jax does, so the dense weights need no reordering.
        flat = a.transpose(1, 2, 3, 0).reshape(a.shape[1], -1)
        e = np.maximum(flat @ params["d1_w"] + params["d1_b"], 0.0)
        embs.append(e)
        probs.append(softmax(e @ params["out_w"] + params["out_b"]))
    return np.concatenate(embs), np.concatenate(probs)


def load(path: str) -> dict:
    """Weights from an .npz written by cnn_train.save (float16 on disk, float32 in memory)."""
    with np.load(path) as z:
        return {k: z[k].astype(np.float32) for k in z.files}


def to_onnx(params: dict) -> bytes:
    """The same network as an ONNX graph (NCHW input N x 1 x H x W, softmax output), for onnxruntime.

    Needs the `onnx` package (the `train` extra): only training writes the file.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, x = [], [], "x"
    for name in CONV_LAYERS:
        w = params[name + "_w"].astype(np.float32).transpose(3, 2, 0, 1)  # HWIO -> OIHW
        inits += [
            numpy_helper.from_array(np.ascontiguousarray(w), name + "_w"),
            numpy_helper.from_array(params[name + "_b"].astype(np.float32), name + "_b"),
        ]
        nodes += [
            helper.make_node("Conv", [x, name + "_w", name + "_b"], [name + "_c"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", [name + "_c"], [name + "_r"]),
            helper.make_node("MaxPool", [name + "_r"], [name + "_p"], kernel_shape=[2, 2], strides=[2, 2]),
        ]
        x = name + "_p"
    # Flatten in NHWC order, as jax does, so the dense weights need no reordering.
    nodes += [
        helper.make_node("Transpose", [x], ["nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Flatten", ["nhwc"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "d1_w", "d1_b"], ["e0"]),
        helper.make_node("Relu", ["e0"], ["emb"]),
        helper.make_node("Gemm", ["emb", "out_w", "out_b"], ["z"]),
        helper.make_node("Softmax", ["z"], ["probs"], axis=1),
    ]
    for k in ("d1_w", "d1_b", "out_w", "out_b"):
        inits.append(numpy_helper.from_array(params[k].astype(np.float32), k))
    graph = helper.make_graph(
        nodes,
        "wheels",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1, None, None])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [None, params["out_b"].shape[0]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()
