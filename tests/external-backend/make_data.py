#!/usr/bin/python3
"""Writes the weights, inputs and PyTorch reference outputs of tests/external-backend/graph.yaml.

The graph alternates between oneDNN (linear, matmul, softmax) and the external device backend
(relu, mul, add), so values cross between host and device memory in both directions.
Run: /usr/bin/python3 tests/external-backend/make_data.py (Debian python3-torch, python3-numpy).
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "fixtures"))
from safetensors_writer import write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH, ROWS, IN, HIDDEN = 2, 4, 8, 16


def save(name, t):
    np.save(os.path.join(HERE, name + ".npy"), t.detach().numpy().astype(np.float32))


def main():
    torch.manual_seed(7)
    w = {
        "fc1.weight": torch.randn(HIDDEN, IN) * 0.4,
        "fc1.bias": torch.randn(HIDDEN) * 0.1,
        "fc2.weight": torch.randn(HIDDEN, HIDDEN) * 0.3,
        "fc2.bias": torch.randn(HIDDEN) * 0.1,
        "scale": 1 + 0.5 * torch.randn(HIDDEN),
    }
    x = torch.randn(BATCH, ROWS, IN)
    shift = 0.2 * torch.randn(HIDDEN)
    half = 0.5  # the inline initializer of graph.yaml

    h = torch.nn.functional.linear(x, w["fc1.weight"], w["fc1.bias"])
    r = torch.relu(h)
    s = r * w["scale"]
    t = s + shift
    o = torch.nn.functional.linear(t, w["fc2.weight"], w["fc2.bias"])
    scores = (o @ o.transpose(-1, -2)) * 0.25
    probs = torch.softmax(scores, dim=-1)
    u = r + t
    v = u * o
    gated = v * half

    write_safetensors(os.path.join(HERE, "graph.safetensors"), w, {"source": "tests/external-backend/make_data.py"})
    save("x", x)
    save("shift", shift)
    save("expected_probs", probs)
    save("expected_gated", gated)


if __name__ == "__main__":
    main()
