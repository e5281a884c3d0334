#!/usr/bin/python3
"""PyTorch side of tools/bench/models/run.sh: BERT (masked-LM logits) and GPT-2 (LM logits; a
decode step over past keys and values) as torch modules over a checkpoint's safetensors weights,
written from transformers' modeling_bert.py and modeling_gpt2.py (transformers is not needed);
ViT and the CLIP towers run the forward passes of tools/fixtures/make_vision_models.py, which the
test checkpoints are checked against. The same modules are timed here and exported to ONNX, so
both peers run the same weights.

  torch_models.py export CHECKPOINT WORKLOAD OUT.onnx [--seq 128] [--past 128]
  torch_models.py bench  CHECKPOINT WORKLOAD --threads N [--seq 128] [--past 128] [--warmup 3] [--iterations 20]
                         [--device cpu|cuda]
  torch_models.py reference CHECKPOINT WORKLOAD OUT_DIR [--seq 128] [--past 128]

WORKLOAD is bert (seq tokens), gpt2-prompt (seq tokens, all logits), gpt2-decode (one token
after `past` cached positions), vit (ViTForImageClassification: one image at the configured size,
logits), clip-image (CLIPModel's vision tower: one image, image_embeds) or clip-text (its text
tower: seq tokens, text_embeds). `bench` prints one JSON line with median_ms, p90_ms, min_ms;
with `--device cuda` the module, its weights and inputs are on the GPU and each timed forward
ends with a synchronisation (f32, TF32 off, as PyTorch's default for matmuls is). `reference` writes the workload's
inputs (NAME.npy) and this module's outputs (expected_NAME.npy) into OUT_DIR, for `loom run
--expect`.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures"))
from make_vision_models import clip_text_forward, clip_vision_forward, vit_forward  # noqa: E402

DTYPES = {"F32": np.float32, "F16": np.float16}
WORKLOADS = ["bert", "gpt2-prompt", "gpt2-decode", "vit", "clip-image", "clip-text"]


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.astype(np.float32))
    return out


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


class Bert(torch.nn.Module):
    """BertForMaskedLM: ids, mask, token types -> logits [B, T, vocab] (the decoder tied to the
    word embeddings)."""

    def __init__(self, cfg, w):
        super().__init__()
        self.cfg = cfg
        self.w = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in w.items()}

    def forward(self, ids, mask, types):
        cfg, w = self.cfg, self.w
        H, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
        B, T = ids.shape
        d = H // nh
        lin = lambda x, n: F.linear(x, w[n + ".weight"], w[n + ".bias"])
        ln = lambda x, n: F.layer_norm(x, (H,), w[n + ".weight"], w[n + ".bias"], eps)
        pos = torch.arange(T).unsqueeze(0)
        h = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.token_type_embeddings.weight"][types]
        h = ln(h + w["embeddings.position_embeddings.weight"][pos], "embeddings.LayerNorm")
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for i in range(cfg["num_hidden_layers"]):
            q = f"encoder.layer.{i}."
            split = lambda x: x.view(B, T, nh, d).transpose(1, 2)
            Q, K, V = (split(lin(h, q + f"attention.self.{n}")) for n in ("query", "key", "value"))
            s = Q @ K.transpose(-1, -2) / math.sqrt(d) + ext
            ctx = (torch.softmax(s, -1) @ V).transpose(1, 2).reshape(B, T, H)
            a = ln(lin(ctx, q + "attention.output.dense") + h, q + "attention.output.LayerNorm")
            h = ln(lin(F.gelu(lin(a, q + "intermediate.dense")), q + "output.dense") + a, q + "output.LayerNorm")
        t = F.layer_norm(F.gelu(lin(h, "cls.predictions.transform.dense")), (H,),
                         w["cls.predictions.transform.LayerNorm.weight"], w["cls.predictions.transform.LayerNorm.bias"], eps)
        return t @ w["embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]


class Gpt2(torch.nn.Module):
    """GPT2LMHeadModel over a KV cache: ids [B, T] after `past` positions whose keys and values
    are given (2 per layer, [B, heads, past, d]) -> logits [B, T, vocab] and the new caches."""

    def __init__(self, cfg, w):
        super().__init__()
        self.cfg = cfg
        self.w = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in w.items()}

    def forward(self, ids, *past):
        cfg, w = self.cfg, self.w
        H, nh, eps, L = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"], cfg["n_layer"]
        B, T = ids.shape
        d = H // nh
        P = past[0].shape[2] if past else 0
        conv = lambda x, n: torch.addmm(w[n + ".bias"], x.reshape(-1, x.shape[-1]), w[n + ".weight"]).view(B, T, -1)
        ln = lambda x, n: F.layer_norm(x, (H,), w[n + ".weight"], w[n + ".bias"], eps)
        pos = torch.arange(P, P + T).unsqueeze(0)
        x = w["wte.weight"][ids] + w["wpe.weight"][pos]
        causal = torch.ones(T, P + T, dtype=torch.bool).tril(P)
        present = []
        for i in range(L):
            q = f"h.{i}."
            Q, K, V = conv(ln(x, q + "ln_1"), q + "attn.c_attn").split(H, dim=2)
            split = lambda t: t.view(B, T, nh, d).transpose(1, 2)
            Q, K, V = split(Q), split(K), split(V)
            if past:
                K = torch.cat([past[2 * i], K], dim=2)
                V = torch.cat([past[2 * i + 1], V], dim=2)
            present += [K, V]
            s = (Q @ K.transpose(-1, -2)) / math.sqrt(d)
            s = torch.where(causal, s, torch.full([], torch.finfo(torch.float32).min))
            ctx = (torch.softmax(s, -1) @ V).transpose(1, 2).reshape(B, T, H)
            x = x + conv(ctx, q + "attn.c_proj")
            x = x + conv(gelu_new(conv(ln(x, q + "ln_2"), q + "mlp.c_fc")), q + "mlp.c_proj")
        logits = ln(x, "ln_f") @ w["wte.weight"].T
        return (logits, *present) if past else logits


class Vit(torch.nn.Module):
    """ViTForImageClassification: pixel_values [B, 3, H, W] -> logits [B, labels]."""

    def __init__(self, cfg, w):
        super().__init__()
        self.cfg = cfg
        self.w = {k[len("vit."):]: v for k, v in w.items() if k.startswith("vit.")}
        self.heads = {k: v for k, v in w.items() if k.startswith("classifier.")}

    def forward(self, pixels):
        return vit_forward(self.cfg, self.w, self.heads, pixels)["logits"]


def unit(x):
    return x / x.norm(dim=-1, keepdim=True)


class ClipImage(torch.nn.Module):
    """CLIPModel.get_image_features, L2-normalised: pixel_values -> image_embeds [B, projection]."""

    def __init__(self, cfg, w):
        super().__init__()
        self.cfg, self.w = cfg["vision_config"], w

    def forward(self, pixels):
        _, pooled = clip_vision_forward(self.cfg, self.w, pixels)
        return unit(pooled @ self.w["visual_projection.weight"].T)


class ClipText(torch.nn.Module):
    """CLIPModel.get_text_features, L2-normalised: ids, mask -> text_embeds [B, projection]."""

    def __init__(self, cfg, w):
        super().__init__()
        self.cfg, self.w = cfg["text_config"], w

    def forward(self, ids, mask):
        _, pooled = clip_text_forward(self.cfg, self.w, ids, mask)
        return unit(pooled @ self.w["text_projection.weight"].T)


def image_size(cfg):
    size = cfg.get("image_size", 224)
    return size if isinstance(size, list) else [size, size]


def workload(checkpoint, name, seq, past):
    """The module and example inputs (with their ONNX names) of a workload."""
    cfg = json.load(open(f"{checkpoint}/config.json"))
    w = read_safetensors(f"{checkpoint}/model.safetensors")
    g = torch.Generator().manual_seed(42)
    if name == "bert":
        ids = torch.randint(0, cfg["vocab_size"], (1, seq), generator=g)
        inputs = (ids, torch.ones(1, seq, dtype=torch.int64), torch.zeros(1, seq, dtype=torch.int64))
        return Bert(cfg, w), inputs, ["input_ids", "attention_mask", "token_type_ids"], ["logits"]
    if name == "vit":
        pixels = torch.rand(1, cfg.get("num_channels", 3), *image_size(cfg), generator=g) * 2 - 1
        return Vit(cfg, w), (pixels,), ["pixel_values"], ["logits"]
    if name == "clip-image":
        vc = cfg["vision_config"]
        pixels = torch.rand(1, vc.get("num_channels", 3), *image_size(vc), generator=g) * 2 - 1
        return ClipImage(cfg, w), (pixels,), ["pixel_values"], ["image_embeds"]
    if name == "clip-text":
        ids = torch.randint(0, cfg["text_config"]["vocab_size"], (1, seq), generator=g)
        return ClipText(cfg, w), (ids, torch.ones(1, seq, dtype=torch.int64)), ["input_ids", "attention_mask"], ["text_embeds"]
    model = Gpt2(cfg, w)
    if name == "gpt2-prompt":
        return model, (torch.randint(0, cfg["vocab_size"], (1, seq), generator=g),), ["input_ids"], ["logits"]
    if name == "gpt2-decode":
        nh, d = cfg["n_head"], cfg["n_embd"] // cfg["n_head"]
        kv = [torch.randn(1, nh, past, d, generator=g) for _ in range(2 * cfg["n_layer"])]
        names = ["input_ids"] + [f"past_{i // 2}_{'kv'[i % 2]}" for i in range(len(kv))]
        outs = ["logits"] + [f"present_{i // 2}_{'kv'[i % 2]}" for i in range(len(kv))]
        return model, (torch.randint(0, cfg["vocab_size"], (1, 1), generator=g), *kv), names, outs
    sys.exit(f"torch_models.py: unknown workload '{name}'")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["export", "bench", "reference"])
    ap.add_argument("checkpoint")
    ap.add_argument("workload", choices=WORKLOADS)
    ap.add_argument("out", nargs="?")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--past", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, inputs, in_names, out_names = workload(a.checkpoint, a.workload, a.seq, a.past)
    model.eval()
    if a.command == "export":
        if not a.out:
            sys.exit("torch_models.py export: OUT.onnx is required")
        with torch.no_grad():
            torch.onnx.export(model, inputs, a.out, input_names=in_names, output_names=out_names, opset_version=14,
                              do_constant_folding=True)
        return
    if a.command == "reference":
        if not a.out:
            sys.exit("torch_models.py reference: OUT_DIR is required")
        os.makedirs(a.out, exist_ok=True)
        with torch.no_grad():
            y = model(*inputs)
        for name, x in zip(in_names, inputs):
            np.save(os.path.join(a.out, name + ".npy"), x.numpy())
        for name, x in zip(out_names, y if isinstance(y, tuple) else (y,)):
            np.save(os.path.join(a.out, "expected_" + name + ".npy"), x.numpy())
        return
    if a.device == "cuda":
        if not torch.cuda.is_available():
            sys.exit("torch_models.py bench: --device cuda, but this torch sees no CUDA device")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.set_default_device("cuda")  # the masks and positions the forward passes make
        for k, v in list(vars(model).items()):  # the weights: dicts of tensors, not parameters
            if not k.startswith("_") and isinstance(v, dict) and v and all(torch.is_tensor(t) for t in v.values()):
                setattr(model, k, {n: t.cuda() for n, t in v.items()})
        inputs = tuple(x.cuda() for x in inputs)
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    samples = []
    with torch.inference_mode():
        for i in range(a.warmup + a.iterations):
            t0 = time.perf_counter()
            model(*inputs)
            sync()
            if i >= a.warmup:
                samples.append((time.perf_counter() - t0) * 1e3)
    samples.sort()
    pct = lambda q: samples[min(len(samples) - 1, int(q * (len(samples) - 1) + 0.5))]
    print(json.dumps({"runtime": f"pytorch {torch.__version__}", "workload": a.workload, "threads": a.threads, "device": a.device,
                      "iterations": a.iterations, "median_ms": pct(0.5), "p90_ms": pct(0.9), "min_ms": samples[0]}))


if __name__ == "__main__":
    main()
