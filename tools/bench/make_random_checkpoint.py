#!/usr/bin/python3
"""Writes a random-weight Hugging Face checkpoint of a real model's size, for benchmarks (not
tests: its outputs mean nothing). The tensors have the names, shapes and layout transformers
saves (GPT-2: Conv1D [in, out], no "transformer." prefix and no lm_head, as the openai-community
files; BERT: the "bert." prefix; ViT: ViTForImageClassification with the "vit." prefix and 1,000
labels, as google/vit-base-patch16-224; CLIP: CLIPModel ViT-B/32, as openai/clip-vit-base-patch32).
The vision models' tensor names come from tools/fixtures/make_vision_models.py, the generator of
the test checkpoints, and get a preprocessor_config.json. Tokenizer files are copied from a
folder when given.

  /usr/bin/python3 tools/bench/make_random_checkpoint.py gpt2 /tmp/gpt2-small [--tokenizer DIR]
  /usr/bin/python3 tools/bench/make_random_checkpoint.py bert /tmp/bert-base [--tokenizer DIR]
  /usr/bin/python3 tools/bench/make_random_checkpoint.py vit /tmp/vit-base-patch16-224
  /usr/bin/python3 tools/bench/make_random_checkpoint.py clip /tmp/clip-vit-base-patch32
"""
import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from make_vision_models import clip_weights, vit_weights  # noqa: E402
from safetensors_writer import write_safetensors  # noqa: E402

VIT_CONFIG = {"model_type": "vit", "architectures": ["ViTForImageClassification"], "hidden_size": 768,
              "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu",
              "layer_norm_eps": 1e-12, "image_size": 224, "patch_size": 16, "num_channels": 3, "qkv_bias": True,
              "id2label": {str(i): f"LABEL_{i}" for i in range(1000)}}
VIT_PREPROCESSOR = {"image_processor_type": "ViTImageProcessor", "do_resize": True, "size": {"height": 224, "width": 224},
                    "resample": 2, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
                    "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
CLIP_TEXT = {"vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 12,
             "num_attention_heads": 8, "max_position_embeddings": 77, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5,
             "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 1}
CLIP_VISION = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
               "num_channels": 3, "image_size": 224, "patch_size": 32, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5}
CLIP_CONFIG = {"model_type": "clip", "architectures": ["CLIPModel"], "projection_dim": 512, "logit_scale_init_value": 2.6592,
               "text_config": CLIP_TEXT, "vision_config": CLIP_VISION}
CLIP_PREPROCESSOR = {"image_processor_type": "CLIPImageProcessor", "do_resize": True, "size": {"shortest_edge": 224},
                     "resample": 3, "do_center_crop": True, "crop_size": {"height": 224, "width": 224}, "do_rescale": True,
                     "rescale_factor": 1 / 255, "do_normalize": True, "do_convert_rgb": True,
                     "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]}


def gpt2(gen):
    H, L, V, P = 768, 12, 50257, 1024
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V, "n_embd": H, "n_layer": L,
           "n_head": 12, "n_positions": P, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
           "bos_token_id": 50256, "eos_token_id": 50256}
    w = {"wte.weight": (V, H), "wpe.weight": (P, H), "ln_f.weight": (H,), "ln_f.bias": (H,)}
    for i in range(L):
        p = f"h.{i}."
        w.update({p + "ln_1.weight": (H,), p + "ln_1.bias": (H,), p + "attn.c_attn.weight": (H, 3 * H),
                  p + "attn.c_attn.bias": (3 * H,), p + "attn.c_proj.weight": (H, H), p + "attn.c_proj.bias": (H,),
                  p + "ln_2.weight": (H,), p + "ln_2.bias": (H,), p + "mlp.c_fc.weight": (H, 4 * H),
                  p + "mlp.c_fc.bias": (4 * H,), p + "mlp.c_proj.weight": (4 * H, H), p + "mlp.c_proj.bias": (H,)})
    return cfg, w


def bert(gen):
    H, L, V, P, I = 768, 12, 30522, 512, 3072
    cfg = {"model_type": "bert", "architectures": ["BertForMaskedLM"], "vocab_size": V, "hidden_size": H,
           "num_hidden_layers": L, "num_attention_heads": 12, "intermediate_size": I, "hidden_act": "gelu",
           "max_position_embeddings": P, "type_vocab_size": 2, "layer_norm_eps": 1e-12}
    w = {"bert.embeddings.word_embeddings.weight": (V, H), "bert.embeddings.position_embeddings.weight": (P, H),
         "bert.embeddings.token_type_embeddings.weight": (2, H), "bert.embeddings.LayerNorm.weight": (H,),
         "bert.embeddings.LayerNorm.bias": (H,), "cls.predictions.transform.dense.weight": (H, H),
         "cls.predictions.transform.dense.bias": (H,), "cls.predictions.transform.LayerNorm.weight": (H,),
         "cls.predictions.transform.LayerNorm.bias": (H,), "cls.predictions.bias": (V,)}
    for i in range(L):
        p = f"bert.encoder.layer.{i}."
        for n in ("query", "key", "value"):
            w[p + f"attention.self.{n}.weight"] = (H, H)
            w[p + f"attention.self.{n}.bias"] = (H,)
        w.update({p + "attention.output.dense.weight": (H, H), p + "attention.output.dense.bias": (H,),
                  p + "attention.output.LayerNorm.weight": (H,), p + "attention.output.LayerNorm.bias": (H,),
                  p + "intermediate.dense.weight": (I, H), p + "intermediate.dense.bias": (I,),
                  p + "output.dense.weight": (H, I), p + "output.dense.bias": (H,),
                  p + "output.LayerNorm.weight": (H,), p + "output.LayerNorm.bias": (H,)})
    return cfg, w


def vision_tensors(named):
    """The fixture generator's tensors at a real model's scale: matrices and convolutions drawn
    there with a std of 0.3 (or less) brought to about 0.02, so that twelve layers of random
    weights keep their activations finite; LayerNorm weights (near 1) and biases as drawn."""
    return {k: v * (0.02 / 0.3) if v.dim() >= 2 else v for k, v in named.items()}


def vit(gen):
    w, heads = vit_weights(dict(VIT_CONFIG, image_size=[224, 224]), "ViTForImageClassification", gen)
    tensors = {"vit." + k: v for k, v in vision_tensors(w).items()}
    tensors.update(vision_tensors(heads))
    return VIT_CONFIG, tensors, VIT_PREPROCESSOR


def clip(gen):
    w = vision_tensors(clip_weights(gen, CLIP_TEXT, CLIP_VISION, CLIP_CONFIG["projection_dim"]))
    w["logit_scale"] = torch.tensor(CLIP_CONFIG["logit_scale_init_value"])
    return CLIP_CONFIG, w, CLIP_PREPROCESSOR


def text_tensors(shapes, gen):
    tensors = {}
    for name, shape in shapes.items():
        if name.endswith(("LayerNorm.weight", "ln_1.weight", "ln_2.weight", "ln_f.weight")):
            tensors[name] = torch.ones(shape)
        elif len(shape) == 1:
            tensors[name] = torch.zeros(shape)
        else:
            tensors[name] = torch.randn(shape, generator=gen) * 0.02
    return tensors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=["gpt2", "bert", "vit", "clip"])
    ap.add_argument("out")
    ap.add_argument("--tokenizer", help="a folder whose vocab.txt / vocab.json / merges.txt are copied")
    a = ap.parse_args()
    gen = torch.Generator().manual_seed(1)
    preprocessor = None
    if a.model in ("vit", "clip"):
        cfg, tensors, preprocessor = {"vit": vit, "clip": clip}[a.model](gen)
    else:
        cfg, shapes = {"gpt2": gpt2, "bert": bert}[a.model](gen)
        tensors = text_tensors(shapes, gen)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    if preprocessor:
        with open(os.path.join(a.out, "preprocessor_config.json"), "w") as f:
            json.dump(preprocessor, f, indent=2)
    write_safetensors(os.path.join(a.out, "model.safetensors"), tensors, {"format": "pt"})
    if a.tokenizer:
        for f in ("vocab.txt", "vocab.json", "merges.txt"):
            if os.path.exists(os.path.join(a.tokenizer, f)):
                shutil.copy(os.path.join(a.tokenizer, f), a.out)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
