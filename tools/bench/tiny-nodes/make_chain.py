#!/usr/bin/env python3
"""Writes the tiny-node chain benchmark graphs: one computation as a Loom graph and as ONNX.

The chain reads x (f32 [1, W]) and applies N nodes that alternate `add` and `mul`, each with
its own constant operand, so that every node does a few nanoseconds of arithmetic and the run
time is dominated by what an executor spends per node. Written into OUT:

    chain.yaml   the Loom graph (docs/graph-format.md), constants inline as `values:`
    chain.onnx   the same computation exported by torch.onnx.export (opset 13), the constants
                 as initializers so that no exporter folds them into the chain
    x.npy        an input; y.npy the output PyTorch computes for it (float32)

    /usr/bin/python3 tools/bench/tiny-nodes/make_chain.py --out build/bench/tiny-nodes
    /usr/bin/python3 tools/bench/tiny-nodes/make_chain.py --count FILE.onnx

`--count` prints the op types of an ONNX file's main graph as JSON (read with a minimal
protobuf reader, so the `onnx` package is not needed); it also checks an optimised model that
ONNX Runtime wrote. Needs torch and numpy (Debian: python3-torch python3-numpy).
"""
import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np


# ---------------------------------------------------------------- ONNX without the onnx package

def _varint(buf, pos):
    value, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf):
    """Yields (field number, wire type, value) of one protobuf message; LEN values as bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ValueError("truncated field %d" % field)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError("unsupported wire type %d" % wire)
        yield field, wire, value


def onnx_summary(path):
    """Op types, initializer count and opsets of an ONNX model's main graph."""
    # ModelProto: 7 graph, 8 opset_import. GraphProto: 1 node, 5 initializer.
    # NodeProto: 4 op_type, 7 domain. OperatorSetIdProto: 1 domain, 2 version.
    data = Path(path).read_bytes()
    ops, initializers, opsets = Counter(), 0, {}
    graphs = 0
    for field, wire, value in _fields(data):
        if field == 8 and wire == 2:
            domain, version = "", 0
            for f, _, v in _fields(value):
                if f == 1:
                    domain = v.decode()
                elif f == 2:
                    version = v
            opsets[domain or "ai.onnx"] = version
        if field != 7 or wire != 2:
            continue
        graphs += 1
        for gf, gw, gv in _fields(value):
            if gf == 5 and gw == 2:
                initializers += 1
            if gf != 1 or gw != 2:
                continue
            op, domain = None, ""
            for nf, _, nv in _fields(gv):
                if nf == 4:
                    op = nv.decode()
                elif nf == 7:
                    domain = nv.decode()
            ops[(domain + "." if domain else "") + (op or "?")] += 1
    if graphs != 1:
        raise ValueError("%s: expected one graph in the model, found %d" % (path, graphs))
    return {"nodes": sum(ops.values()), "ops": dict(sorted(ops.items())), "initializers": initializers,
            "opsets": opsets}


# ---------------------------------------------------------------- the chain

def constants(nodes, shape, seed):
    """Per node: the operand of its add (small offsets) or mul (factors near 1, so that the
    product over hundreds of nodes stays in range)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(nodes):
        if i % 2 == 0:
            c = rng.uniform(-0.1, 0.1, size=shape)
        else:
            c = rng.uniform(0.95, 1.05, size=shape)
        out.append(c.astype(np.float32))
    return out


def node_op(i):
    return "add" if i % 2 == 0 else "mul"


def fmt_float(v):
    # The shortest text of the float32 value as a double reads back to exactly that float32.
    return repr(float(v))


def write_yaml(path, consts, width, shape):
    n = len(consts)
    lines = [
        "loom: 1",
        "name: tiny-node-chain",
        "metadata: {purpose: executor overhead benchmark, nodes: \"%d\", made_by: tools/bench/tiny-nodes/make_chain.py}" % n,
        "inputs:",
        "  - {name: x, dtype: f32, shape: [1, %d]}" % width,
        "outputs: [y]",
        "initializers:",
    ]
    shape_text = "[" + ", ".join(str(d) for d in shape) + "]"
    for i, c in enumerate(consts):
        values = ", ".join(fmt_float(v) for v in c.reshape(-1))
        lines.append("  - {name: c%d, dtype: f32, shape: %s, values: [%s]}" % (i, shape_text, values))
    lines.append("nodes:")
    for i in range(n):
        src = "x" if i == 0 else "v%d" % (i - 1)
        dst = "y" if i == n - 1 else "v%d" % i
        lines.append("  - {op: %s, inputs: [%s, c%d], outputs: [%s]}" % (node_op(i), src, i, dst))
    Path(path).write_text("\n".join(lines) + "\n")


def write_onnx(path, consts, width):
    import torch

    class Chain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            # Buffers become initializers: the exporter cannot fold x + c, and the graph keeps
            # exactly one Add or Mul per node.
            for i, c in enumerate(consts):
                self.register_buffer("c%d" % i, torch.from_numpy(c.copy()))

        def forward(self, x):
            for i in range(len(consts)):
                c = getattr(self, "c%d" % i)
                x = x + c if i % 2 == 0 else x * c
            return x

    model = Chain().eval()
    x = torch.zeros(1, width, dtype=torch.float32)
    torch.onnx.export(model, (x,), str(path), input_names=["x"], output_names=["y"], opset_version=13,
                      do_constant_folding=False)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="folder for chain.yaml, chain.onnx, x.npy, y.npy")
    ap.add_argument("--nodes", type=int, default=1000, help="nodes in the chain (default 1000)")
    ap.add_argument("--width", type=int, default=16, help="elements of x (default 16: x is [1, 16])")
    ap.add_argument("--const-shape", choices=["1,W", "W"], default="1,W",
                    help="shape of each constant: [1, W] (default, same as x) or [W] (broadcast)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--count", metavar="FILE.onnx", help="print the op counts of an ONNX file and exit")
    args = ap.parse_args()

    if args.count:
        try:
            print(json.dumps(onnx_summary(args.count), indent=2))
        except (OSError, ValueError) as e:
            sys.exit("make_chain.py: %s: %s" % (args.count, e))
        return
    if args.out is None:
        ap.error("--out is required")
    if args.nodes < 1 or args.width < 1:
        ap.error("--nodes and --width must be positive")

    import torch
    torch.set_num_threads(1)
    shape = (1, args.width) if args.const_shape == "1,W" else (args.width,)
    args.out.mkdir(parents=True, exist_ok=True)
    consts = constants(args.nodes, shape, args.seed)
    write_yaml(args.out / "chain.yaml", consts, args.width, shape)
    model = write_onnx(args.out / "chain.onnx", consts, args.width)

    x = np.random.default_rng(args.seed + 1).uniform(-1, 1, size=(1, args.width)).astype(np.float32)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    np.save(args.out / "x.npy", x)
    np.save(args.out / "y.npy", y)

    summary = onnx_summary(args.out / "chain.onnx")
    expected = Counter(node_op(i).capitalize() for i in range(args.nodes))
    if summary["ops"] != dict(expected) or summary["initializers"] != args.nodes:
        sys.exit("make_chain.py: chain.onnx has ops %s and %d initializers, expected %s and %d (was something folded?)"
                 % (summary["ops"], summary["initializers"], dict(expected), args.nodes))
    if summary["opsets"].get("ai.onnx") != 13:
        sys.exit("make_chain.py: chain.onnx has opsets %s, expected ai.onnx 13" % summary["opsets"])
    print(json.dumps({"out": str(args.out), "nodes": args.nodes, "width": args.width, "const_shape": list(shape),
                      "onnx": summary}))


if __name__ == "__main__":
    main()
