"""Rewrites the PP-OCRv4 models that `rapidocr-onnxruntime` ships into equivalent, faster graphs.

The models came out of Paddle2ONNX op by op: every "learnable affine block" of their PP-LCNetV3
backbone is a Mul and an Add by a scalar after a convolution, and every hard-swish is four ops
(x * clip(x + 3, 0, 6) / 6). onnxruntime fuses neither, so each is a pass over a full feature map.
Three exact rewrites remove them:

1. Conv -> Mul(s) [-> Add(t)]          => Conv with weights w*s and bias b*s + t;
2. Add(x, 3) -> Clip(0, 6) -> Mul(x) -> Div(6)  => HardSwish(x) (opset 14; onnxruntime then runs it
   inside the convolution before it);
3. Mul(a) -> Add(c) -> 1x1 Conv (no padding)    => Conv with weights w*a and bias b + c * sum(w).
   (Before a padded convolution the same fold would be wrong at the borders: left alone.)

Only floating-point rounding changes (the tests compare boxes and row texts with the originals' on
held-out renders). Measured on one core in `bench/ocr_real.py`: the detector at 640 px 0.75-0.80x the
time, the recogniser 0.85-0.88x a row (docs/ocr.md, round 14).

Needs the `onnx` package, so it runs at build time: `make venv` writes the rewritten models beside
this package's own (`python -m ocr_reader.onnx_fuse`), each stamped with the SHA-256 of the file it
came from; `textdet`/`textrec` use one only while that stamp matches the installed original.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys

import numpy as np

from ocr_reader import textdet, textrec
from ocr_reader.onnx_session import FUSED_DIR, SOURCE_KEY, fused_path, sha256_of

OPSET = 14  # HardSwish


class _Graph:
    """Index of a graph's constants, consumers and outputs, rebuilt after each rewrite."""

    def __init__(self, graph):
        from onnx import numpy_helper

        self.graph = graph
        self.values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        for n in graph.node:
            if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
                self.values[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
        self.users: dict[str, list] = collections.defaultdict(list)
        for n in graph.node:
            for i in n.input:
                self.users[i].append(n)
        self.outputs = {o.name for o in graph.output}

    def sole_user(self, name: str, op_type: str):
        """The one node that reads tensor `name`, if it is of op_type and nothing else reads it."""
        users = self.users[name]
        if len(users) == 1 and name not in self.outputs and users[0].op_type == op_type:
            return users[0]
        return None

    def scalar_beside(self, node, x: str) -> float | None:
        """The constant scalar that node combines with tensor x, or None."""
        others = [i for i in node.input if i != x]
        if len(others) != 1 or len(node.input) != 2:
            return None
        v = self.values.get(others[0])
        if v is None or v.size != 1:
            return None
        return float(v.reshape(-1)[0])

    def weights(self, conv) -> tuple[np.ndarray, np.ndarray] | None:
        """(weights, bias) of a Conv whose parameters are constants."""
        w = self.values.get(conv.input[1])
        if w is None:
            return None
        b = self.values.get(conv.input[2]) if len(conv.input) > 2 else np.zeros(w.shape[0], np.float32)
        return None if b is None else (w.astype(np.float32), b.astype(np.float32))


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _replace(graph, drop: set[int], swap: dict[int, object], new_weights: dict[str, np.ndarray]) -> None:
    from onnx import numpy_helper

    nodes = [swap.get(id(n), n) for n in graph.node if id(n) not in drop]
    del graph.node[:]
    graph.node.extend(nodes)
    for name, v in new_weights.items():
        graph.initializer.append(numpy_helper.from_array(v.astype(np.float32), name))


def fold_conv_affine(graph) -> int:
    """Rewrite 1: a scalar Mul (and Add) after a Conv goes into its weights. Returns the count."""
    g, drop, new = _Graph(graph), set(), {}
    for conv in list(graph.node):
        if conv.op_type != "Conv" or (wb := g.weights(conv)) is None:
            continue
        mul = g.sole_user(conv.output[0], "Mul")
        s = None if mul is None else g.scalar_beside(mul, conv.output[0])
        if s is None:
            continue
        add = g.sole_user(mul.output[0], "Add")
        t = None if add is None else g.scalar_beside(add, mul.output[0])
        last = mul if t is None else add
        w, b = wb
        name = f"{conv.output[0]}__folded"
        new[name + "_w"], new[name + "_b"] = w * s, b * s + (t or 0.0)
        conv.input[:] = [conv.input[0], name + "_w", name + "_b"]
        conv.output[0] = last.output[0]
        drop |= {id(mul)} | ({id(add)} if t is not None else set())
    _replace(graph, drop, {}, new)
    return len(new) // 2


def fuse_hardswish(graph) -> int:
    """Rewrite 2: x * clip(x + 3, 0, 6) / 6 becomes one HardSwish. Returns the count."""
    from onnx import helper

    g, drop, swap = _Graph(graph), set(), {}
    for add in list(graph.node):
        if add.op_type != "Add":
            continue
        xs = [i for i in add.input if i not in g.values]
        if len(xs) != 1 or g.scalar_beside(add, xs[0]) != 3.0:
            continue
        x = xs[0]
        clip = g.sole_user(add.output[0], "Clip")
        if clip is None or len(clip.input) != 3 or any(i not in g.values for i in clip.input[1:]):
            continue
        if [float(g.values[i].reshape(-1)[0]) for i in clip.input[1:]] != [0.0, 6.0]:
            continue
        mul = g.sole_user(clip.output[0], "Mul")
        if mul is None or sorted(mul.input) != sorted([x, clip.output[0]]):
            continue
        div = g.sole_user(mul.output[0], "Div")
        if div is None or div.input[0] != mul.output[0] or g.scalar_beside(div, mul.output[0]) != 6.0:
            continue
        swap[id(div)] = helper.make_node(
            "HardSwish", [x], [div.output[0]], name=f"{div.output[0]}__hardswish"
        )
        drop |= {id(add), id(clip), id(mul)}
    _replace(graph, drop, swap, {})
    return len(swap)


def fold_affine_into_pointwise(graph) -> int:
    """Rewrite 3: a scalar Mul and Add before an unpadded 1x1 Conv go into its weights. Returns the count."""
    g, drop, new = _Graph(graph), set(), {}
    for mul in list(graph.node):
        if mul.op_type != "Mul":
            continue
        xs = [i for i in mul.input if i not in g.values]
        if len(xs) != 1 or (a := g.scalar_beside(mul, xs[0])) is None:
            continue
        add = g.sole_user(mul.output[0], "Add")
        c = None if add is None else g.scalar_beside(add, mul.output[0])
        conv = None if c is None else g.sole_user(add.output[0], "Conv")
        if conv is None or conv.input[0] != add.output[0] or (wb := g.weights(conv)) is None:
            continue
        w, b = wb
        at = _attrs(conv)
        if w.shape[2:] != (1, 1) or any(at.get("pads", [0])) or at.get("group", 1) != 1:
            continue
        name = f"{conv.output[0]}__prefolded"
        new[name + "_w"], new[name + "_b"] = w * a, b + c * w.sum(axis=(1, 2, 3))
        conv.input[:] = [xs[0], name + "_w", name + "_b"]
        drop |= {id(mul), id(add)}
    _replace(graph, drop, {}, new)
    return len(new) // 2


def _prune(graph) -> None:
    """Drop constants, initializers and shape annotations nothing reads any more."""
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    nodes = [n for n in graph.node if not (n.op_type == "Constant" and n.output[0] not in used)]
    del graph.node[:]
    graph.node.extend(nodes)
    inits = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(inits)
    made = {o for n in graph.node for o in n.output} | {i.name for i in graph.input}
    infos = [v for v in graph.value_info if v.name in made]
    del graph.value_info[:]
    graph.value_info.extend(infos)


def fuse(model_bytes: bytes, source_sha256: str = "") -> tuple[bytes, dict[str, int]]:
    """(the rewritten model, how many of each rewrite were made)."""
    import onnx
    from onnx import version_converter

    model = onnx.load_from_string(model_bytes)
    if next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0) < OPSET:
        model = version_converter.convert_version(model, OPSET)
    counts = {
        "conv_affine": fold_conv_affine(model.graph),
        "hardswish": fuse_hardswish(model.graph),
        "affine_into_1x1": fold_affine_into_pointwise(model.graph),
    }
    _prune(model.graph)
    if source_sha256:
        onnx.helper.set_model_props(
            model, {**{p.key: p.value for p in model.metadata_props}, SOURCE_KEY: source_sha256}
        )
    onnx.checker.check_model(model)
    return model.SerializeToString(), counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args(argv)
    sources = [textdet.original_path(), textrec.original_path()]
    if any(p is None for p in sources):
        print("rapidocr-onnxruntime is not installed: nothing to rewrite", file=sys.stderr)
        return 1
    os.makedirs(FUSED_DIR, exist_ok=True)
    for src in sources:
        assert src is not None
        with open(src, "rb") as f:
            data, counts = fuse(f.read(), sha256_of(src))
        dst = fused_path(src)
        tmp = dst + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, dst)
        print(f"{os.path.basename(src)}: {counts} -> {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
