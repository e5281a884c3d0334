#!/usr/bin/python3
"""Writes tests/external-model/: a checkpoint of the made-up "toymlp" architecture
(checkpoint/config.json, checkpoint/model.safetensors), an input batch and the PyTorch reference
outputs of both tasks. The module below is the definition the toymlp plugin translates.
Run: /usr/bin/python3 tests/external-model/make_checkpoint.py (Debian python3-torch, python3-numpy).
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "fixtures"))
from safetensors_writer import write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = {
    "model_type": "toymlp",
    "input_size": 6,
    "hidden_size": 12,
    "num_hidden_layers": 3,
    "num_labels": 4,
    "id2label": {"0": "low", "1": "medium", "2": "high", "3": "very high"},
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-05,
}


class ToyMLP(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed = torch.nn.Linear(c["input_size"], c["hidden_size"])
        self.layers = torch.nn.ModuleList(
            torch.nn.Linear(c["hidden_size"], c["hidden_size"]) for _ in range(c["num_hidden_layers"]))
        self.norm = torch.nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.classifier = torch.nn.Linear(c["hidden_size"], c["num_labels"])
        self.act = torch.nn.GELU()  # exact erf form, as HF's "gelu"

    def forward(self, features):
        h = self.act(self.embed(features))
        for layer in self.layers:
            h = h + self.act(layer(h))
        last_hidden_state = self.norm(h)
        logits = self.classifier(last_hidden_state)
        return last_hidden_state, logits, torch.softmax(logits, dim=-1)


def main():
    torch.manual_seed(11)
    model = ToyMLP(CONFIG).eval()
    with torch.no_grad():
        # LayerNorm starts as the identity: perturb it so the test sees its weights used.
        model.norm.weight.add_(0.2 * torch.randn(CONFIG["hidden_size"]))
        model.norm.bias.add_(0.1 * torch.randn(CONFIG["hidden_size"]))
        features = torch.randn(3, CONFIG["input_size"])
        last_hidden_state, logits, probs = model(features)

    ckpt = os.path.join(HERE, "checkpoint")
    os.makedirs(ckpt, exist_ok=True)
    with open(os.path.join(ckpt, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(ckpt, "model.safetensors"), model.state_dict(), {"format": "pt", "source": "tests/external-model/make_checkpoint.py"})
    for name, t in [("features", features), ("expected_last_hidden_state", last_hidden_state),
                    ("expected_logits", logits), ("expected_probs", probs)]:
        np.save(os.path.join(HERE, name + ".npy"), t.numpy().astype(np.float32))


if __name__ == "__main__":
    main()
