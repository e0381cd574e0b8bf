"""Train the row reader (rowread.py) with jax and CTC (optax): `python -m ocr_reader.train --rows`.

The network, channels last as in jax: five 3x3 convolutions (16, 32, 48, 48, 64 channels; 2x2, 2x2
and 2x1 max pooling), the height taken by a max, two 1x5 convolutions along the row (64), and a
1x1 convolution to the 21 classes (blank + 20 half digits). 4 input columns per output column.
Exported to ONNX by hand (to_onnx) so onnxruntime runs it at inference.
"""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm import tqdm

from ocr_reader.rowread import MAX_W_PX, N_CLASSES, ROW_H_PX, STRIDE_PX, prepare

CONVS = (
    ("c1", 3, 1, 16, (2, 2)),
    ("c2", 3, 16, 32, (2, 2)),
    ("c3", 3, 32, 48, None),
    ("c4", 3, 48, 48, (2, 1)),
    ("c5", 3, 48, 64, "height"),
)
ALONG = (("t1", 5, 64, 64), ("t2", 5, 64, 64))
OUT_IN = 64
BATCH = 64
WIDTH_BUCKETS = (64, 96, 128, 160, 192, 224, 256)
MAX_LABEL = 8
DROPOUT = 0.2


def init_params(seed: int) -> dict:
    """He-initialised weights (HWIO kernels), numpy float32."""
    rng = np.random.default_rng(seed)
    p = {}
    for name, k, cin, cout, _ in CONVS:
        p[name + "_w"] = rng.normal(0, math.sqrt(2 / (k * k * cin)), (k, k, cin, cout)).astype(np.float32)
        p[name + "_b"] = np.zeros(cout, np.float32)
    for name, k, cin, cout in ALONG:
        p[name + "_w"] = rng.normal(0, math.sqrt(2 / (k * cin)), (1, k, cin, cout)).astype(np.float32)
        p[name + "_b"] = np.zeros(cout, np.float32)
    p["o_w"] = rng.normal(0, math.sqrt(1 / OUT_IN), (1, 1, OUT_IN, N_CLASSES)).astype(np.float32)
    p["o_b"] = np.zeros(N_CLASSES, np.float32)
    return p


def _conv(x, w, b):
    return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")) + b


def _pool(x, ph: int, pw: int):
    n, h, w, c = x.shape
    return x.reshape(n, h // ph, ph, w // pw, pw, c).max(axis=(2, 4))


def logits(params: dict, x, key=None):
    """N x T x N_CLASSES logits of input N x H x W x 1 (centred, -0.5..0.5)."""
    h = x
    for name, _, _, _, pool in CONVS:
        h = jax.nn.relu(_conv(h, params[name + "_w"], params[name + "_b"]))
        if pool == "height":
            h = h.max(axis=1, keepdims=True)
        elif pool is not None:
            h = _pool(h, *pool)
    for name, _, _, _ in ALONG:
        h = jax.nn.relu(_conv(h, params[name + "_w"], params[name + "_b"]))
    if key is not None:
        keep = jax.random.bernoulli(key, 1 - DROPOUT, h.shape)
        h = jnp.where(keep, h / (1 - DROPOUT), 0.0)
    return _conv(h, params["o_w"], params["o_b"])[:, 0]


def to_arrays(
    rows: list[tuple[np.ndarray, list[int]]],
) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Strips and labels grouped by padded width: {width: (x uint8 N x H x W, columns N, labels N x 8)}."""
    groups: dict[int, list] = {}
    for strip, label in rows:
        if not 1 <= len(label) <= MAX_LABEL:
            continue
        p = prepare(strip)
        width = next(b for b in WIDTH_BUCKETS if b >= p.shape[1])
        groups.setdefault(width, []).append((p, label))
    out = {}
    for width, items in groups.items():
        x = np.full((len(items), ROW_H_PX, width), 128, np.uint8)
        cols = np.zeros(len(items), np.int32)
        lab = np.zeros((len(items), MAX_LABEL), np.int32)
        for i, (p, label) in enumerate(items):
            x[i, :, : p.shape[1]] = np.round((p + 0.5) * 255).astype(np.uint8)
            cols[i] = p.shape[1] // STRIDE_PX
            lab[i, : len(label)] = label
        out[width] = (x, cols, lab)
    return out


def _inputs(x_u8: np.ndarray, cols: np.ndarray, lab: np.ndarray):
    x = x_u8.astype(np.float32)[..., None] / 255.0 - 0.5
    t = x_u8.shape[2] // STRIDE_PX
    logit_pad = (np.arange(t)[None, :] >= cols[:, None]).astype(np.float32)
    label_pad = (lab == 0).astype(np.float32)
    return x, logit_pad, label_pad


def _augment(key, x):
    """Contrast, brightness, gamma and inversion (white-on-black and black-on-white wheels)."""
    n = x.shape[0]
    k = jax.random.split(key, 4)
    u = jnp.clip(x + 0.5, 0, 1)
    u = u ** jnp.exp(jax.random.uniform(k[0], (n, 1, 1, 1), minval=-0.4, maxval=0.4))
    u = (u - 0.5) * jax.random.uniform(k[1], (n, 1, 1, 1), minval=0.6, maxval=1.1) + 0.5
    u = u + jax.random.uniform(k[2], (n, 1, 1, 1), minval=-0.1, maxval=0.1)
    inv = jax.random.uniform(k[3], (n, 1, 1, 1)) < 0.3
    u = jnp.where(inv, 1 - u, u)
    return jnp.clip(u, 0, 1) - 0.5


def _loss(params, x, logit_pad, lab, label_pad, key):
    k_aug, k_drop = jax.random.split(key)
    z = logits(params, _augment(k_aug, x), k_drop)
    return optax.ctc_loss(z, logit_pad, lab, label_pad).mean()


def _probs(params, x):
    return jax.nn.softmax(logits(params, x), axis=-1)


_probs_jit = jax.jit(_probs)


def predict(params: dict, x_u8: np.ndarray) -> np.ndarray:
    """N x T x N_CLASSES probabilities of prepared uint8 strips of one width."""
    jp = {k: jnp.asarray(v) for k, v in params.items()}
    x = x_u8.astype(np.float32)[..., None] / 255.0 - 0.5
    return np.concatenate([np.asarray(_probs_jit(jp, x[i : i + 256])) for i in range(0, len(x), 256)])


def evaluate(params: dict, data: dict) -> dict:
    """Rows read exactly (every class), and rows whose every wheel is within one half-digit class."""
    from ocr_reader.rowread import decode

    exact = near = n = 0
    for x, cols, lab in data.values():
        probs = predict(params, x)
        for p, c, label in zip(probs, cols, lab, strict=True):
            want = [int(v) for v in label if v]
            got = [ch.cls for ch in decode(p, int(c)).chars]
            n += 1
            exact += got == want
            near += len(got) == len(want) and all(
                min((a - b) % 20, (b - a) % 20) <= 1 for a, b in zip(got, want, strict=True)
            )
    return {"rows": n, "exact": exact / max(n, 1), "within_half_digit": near / max(n, 1)}


def fit(
    data: dict, epochs: int, seed: int = 0, val: dict | None = None, lr_peak: float = 2e-3, log=print
) -> dict:
    """Train on {width: (x, cols, labels)}; batches are drawn from one width at a time."""
    rng = np.random.default_rng(seed)
    batches = [(w, i) for w, (x, _, _) in data.items() for i in range(0, len(x) - BATCH + 1, BATCH)]
    total = epochs * len(batches)
    schedule = optax.warmup_cosine_decay_schedule(0.0, lr_peak, 300, max(total, 301), lr_peak * 0.05)
    opt = optax.chain(optax.clip_by_global_norm(5.0), optax.adamw(schedule, weight_decay=1e-4))
    params = {k: jnp.asarray(v) for k, v in init_params(seed).items()}
    state = opt.init(params)

    @jax.jit
    def step(params, state, x, logit_pad, lab, label_pad, key):
        loss, grads = jax.value_and_grad(_loss)(params, x, logit_pad, lab, label_pad, key)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    key = jax.random.PRNGKey(seed)
    for epoch in range(epochs):
        t0 = time.monotonic()
        perm = {w: rng.permutation(len(x)) for w, (x, _, _) in data.items()}
        losses = []
        for b in tqdm(
            rng.permutation(len(batches)), desc=f"rows epoch {epoch + 1}", unit="batch", mininterval=30
        ):
            w, i = batches[int(b)]
            x, cols, lab = data[w]
            idx = np.sort(perm[w][i : i + BATCH])
            xb, lp, lpad = _inputs(x[idx], cols[idx], lab[idx])
            key, sub = jax.random.split(key)
            params, state, loss = step(params, state, xb, lp, lab[idx], lpad, sub)
            losses.append(float(loss))
        loss = np.mean(losses[-200:])
        msg = f"rows epoch {epoch + 1}/{epochs}: loss {loss:.4f}, {time.monotonic() - t0:.0f} s"
        if val is not None:
            msg += f", val {evaluate({k: np.asarray(v) for k, v in params.items()}, val)}"
        log(msg)
    return {k: np.asarray(v, np.float32) for k, v in params.items()}


def to_onnx(params: dict) -> bytes:
    """The network as an ONNX graph: input x (N x 1 x 32 x W), output probs (N x 21 x 1 x W/4)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, x = [], [], "x"

    def conv(name: str, kh: int, kw: int, src: str) -> str:
        w = params[name + "_w"].astype(np.float32).transpose(3, 2, 0, 1)  # HWIO -> OIHW
        inits.append(numpy_helper.from_array(np.ascontiguousarray(w), name + "_w"))
        inits.append(numpy_helper.from_array(params[name + "_b"].astype(np.float32), name + "_b"))
        pads = [kh // 2, kw // 2, kh // 2, kw // 2]
        nodes.append(helper.make_node("Conv", [src, name + "_w", name + "_b"], [name + "_c"], pads=pads))
        return name + "_c"

    for name, k, _, _, pool in CONVS:
        c = conv(name, k, k, x)
        nodes.append(helper.make_node("Relu", [c], [name + "_r"]))
        x = name + "_r"
        if pool == "height":
            nodes.append(helper.make_node("ReduceMax", [x], [name + "_p"], axes=[2], keepdims=1))
            x = name + "_p"
        elif pool is not None:
            nodes.append(
                helper.make_node("MaxPool", [x], [name + "_p"], kernel_shape=list(pool), strides=list(pool))
            )
            x = name + "_p"
    for name, k, _, _ in ALONG:
        c = conv(name, 1, k, x)
        nodes.append(helper.make_node("Relu", [c], [name + "_r"]))
        x = name + "_r"
    z = conv("o", 1, 1, x)
    nodes.append(helper.make_node("Softmax", [z], ["probs"], axis=1))
    graph = helper.make_graph(
        nodes,
        "rows",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1, ROW_H_PX, None])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [None, N_CLASSES, 1, None])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


assert MAX_W_PX == WIDTH_BUCKETS[-1]
