#!/usr/bin/python3
"""The table of tools/bench/models/run.sh: per workload and thread count, the median over the
rounds of each round's median latency for Loom, ONNX Runtime and PyTorch, the workload's limit
(the median over the rounds of the mean of the limits measured before it and after Loom's runs)
and the ratios to it, each the median over the steady rounds (paired()) of that round's time
over that round's limit; where Loom also ran in bf16 (PRECISIONS="f32 bf16"), a second
table against the bf16 limits and bf16's error against f32. Writes summary.json beside the results.

  summary.py RESULTS.jsonl WORK_DIR ROUNDS ITERATIONS LOAD_BEFORE LOAD_AFTER
"""
import datetime
import json
import statistics
import subprocess
import sys

H, L, I_BERT, SEQ, PAST = 768, 12, 3072, 128, 128
V_BERT, V_GPT2 = 30522, 50257
CLIP_SEQ, CLIP_TEXT_H, CLIP_TEXT_I, CLIP_PROJECTION = 77, 512, 2048, 512
# The targets (docs/performance.md): Loom faster than ONNX Runtime and PyTorch, and within these
# multiples of the f32 GEMM limit at 1 and 2 threads; in bf16 within 1.5x the bf16 GEMM limit
# (prefill) and 1.15x the read time of the bf16 weights (decode step).
TARGET_OF_LIMIT = {1: 1.05, 2: 1.10}
DECODE_TARGET = 1.10  # the decode step: within this multiple of its bandwidth limit at 1 and 2 threads
BF16_TARGET = {"flops": 1.5, "bytes": 1.15}


def encoder_flops(T, hidden, intermediate, layers=L):
    """Matmul FLOPs of `layers` transformer layers over T tokens: q, k, v and output projections,
    the two MLP matmuls, and the attention's scores and context (the whole T x T square, masked
    or not, as ONNX Runtime and PyTorch compute it)."""
    return layers * (4 * 2 * T * hidden * hidden + 2 * 2 * T * hidden * intermediate + 2 * 2 * T * T * hidden)


def patch_flops(image, patch, hidden=H, channels=3):
    """The patch embedding: a convolution of stride `patch`, one [C*P*P] x [hidden] product per patch."""
    return 2 * (image // patch) ** 2 * channels * patch * patch * hidden


def bert_flops(T=SEQ):
    return encoder_flops(T, H, I_BERT) + 2 * T * H * H + 2 * T * H * V_BERT  # + the MLM head (transform, decoder)


def vit_flops(image=224, patch=16, labels=1000):
    """ViT-B/16: the patches, 197 tokens through 12 layers, the classifier on the class token."""
    T = (image // patch) ** 2 + 1
    return patch_flops(image, patch) + encoder_flops(T, H, I_BERT) + 2 * H * labels


def clip_image_flops(image=224, patch=32):
    """CLIP ViT-B/32's vision tower: the patches, 50 tokens through 12 layers, the projection."""
    T = (image // patch) ** 2 + 1
    return patch_flops(image, patch) + encoder_flops(T, H, I_BERT) + 2 * H * CLIP_PROJECTION


def clip_text_flops(T=CLIP_SEQ):
    """CLIP's text tower: 77 tokens through 12 layers of width 512, the projection of the pooled token."""
    return encoder_flops(T, CLIP_TEXT_H, CLIP_TEXT_I) + 2 * CLIP_TEXT_H * CLIP_PROJECTION


def gpt2_prompt_flops(T=SEQ):
    layer = 2 * T * H * 3 * H + 2 * T * H * H + 2 * 2 * T * H * 4 * H + 2 * 2 * T * T * H
    return L * layer + 2 * T * H * V_GPT2


def gpt2_decode_bytes(size=4):
    layer = (H * 3 * H + H * H + 2 * H * 4 * H) * size  # the matmul weights (f32: 4 bytes) read once per step
    return L * layer + V_GPT2 * H * size  # + the tied LM head


STEADY = 1.10  # a round's limits after Loom's runs within this factor of those before: the host held its speed


def paired(rows, workload, threads, contender, limit_of):
    """(median limit, median ratio, steady rounds, rounds) over the rounds: each round's median
    time of `contender` over the mean of the limits measured before this workload and after
    Loom's runs in that round (limit_of(limits row), in ms). Rounds whose two limits differ by
    more than STEADY are left out of the ratio's median where any round is steady: the host
    changed speed while Loom ran. Results without limits after (older runs) count every round."""
    def limit_rows(name, which="limits"):
        return [r for r in rows if r["workload"] == name and r["threads_asked"] == threads and r["contender"] == which]

    before = limit_rows(workload) or limit_rows("limits")  # the round's own limits where the results lack the workload's
    after = {r.get("round"): r for r in limit_rows(workload, "limits-after")}
    steady, unsteady = [], []  # (limit, ratio) per round
    for r in before:
        first = limit_of(r)
        second = limit_of(after[r.get("round")]) if r.get("round") in after else first
        limit = (first + second) / 2
        times = [x["median_ms"] for x in rows if x["workload"] == workload and x["threads_asked"] == threads and
                 x["contender"] == contender and x.get("round") == r.get("round")]
        if times:  # NaN limits (no bf16 GEMM on this CPU) compare false: steady, their ratio NaN
            (unsteady if max(first, second) > STEADY * min(first, second) else steady).append((limit, times[0] / limit))
    used = steady or unsteady  # the limit column over the same rounds as the ratio
    nan = float("nan")
    return (statistics.median(l for l, _ in used) if used else nan, statistics.median(q for _, q in used) if used else nan,
            len(steady), len(steady) + len(unsteady))


def steadiness(steady, rounds):
    """A note on a ratio taken from fewer than all rounds, or from unsteady ones."""
    if steady == rounds:
        return ""
    return f" ({steady} of {rounds} rounds steady)" if steady else " (host unsteady in every round)"


def bf16_table(rows, work, threads, summary, work_of, present, med):
    """Loom with --precision bf16 beside Loom in f32, against the bf16 limits, and bf16's error."""
    if not any(r["contender"] == "loom-bf16" for r in rows):
        return
    print()
    print("| workload | threads | Loom bf16 (ms) | Loom f32 (ms) | bf16 limit (ms) | bf16 / limit | peak RSS bf16 / f32 (MiB) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    summary["bf16"] = []
    for w in present:
        label, amount, kind = work_of[w]
        for t in threads:
            b, f = med(w, t, "loom-bf16"), med(w, t, "loom")
            if kind == "bytes":
                limit, r, steady, rounds = paired(rows, w, t, "loom-bf16", lambda l: gpt2_decode_bytes(2) / (l["read_gbps"] * 1e9) * 1e3)
            else:
                limit, r, steady, rounds = paired(rows, w, t, "loom-bf16",
                                                  lambda l: amount / (l["bf16_gemm_gflops_or_nan"] * 1e9) * 1e3)
            entry = {"workload": w, "threads": t, "loom_bf16_ms": b, "loom_f32_ms": f, "limit_ms": limit, "ratio": r,
                     "steady_rounds": steady, "rounds": rounds, "peak_rss_mb": med(w, t, "loom-bf16", "peak_rss_mb")}
            summary["bf16"].append(entry)
            ratio = (f"{r:.2f} (target {BF16_TARGET[kind]}){steadiness(steady, rounds)}" if limit == limit
                     else "no bf16 GEMM here")
            print(f"| {label} | {t} | {b:.2f} | {f:.2f} | {limit:.2f} | {ratio} | {entry['peak_rss_mb']:.0f} / "
                  f"{med(w, t, 'loom', 'peak_rss_mb'):.0f} |")
    try:
        accuracy = [json.loads(l) for l in open(f"{work}/bf16_accuracy.jsonl")]
    except OSError:
        accuracy = []
    summary["bf16_accuracy"] = accuracy
    if accuracy:
        print()
        print("| checkpoint | output | max abs error bf16 | max abs error f32 | max abs of PyTorch's |")
        print("| --- | --- | ---: | ---: | ---: |")
        for a in accuracy:
            print(f"| {a['checkpoint']} | {a['output']} | {a['bf16_max_abs_error']:.3g} | {a['f32_max_abs_error']:.3g} | "
                  f"{a['max_abs_ref']:.3g} |")


def main():
    results, work, rounds, iterations, load_before, load_after = sys.argv[1:]
    rows = [json.loads(l) for l in open(results)]
    for r in rows:  # null where oneDNN has no bf16 matmul for this CPU
        if r["contender"] in ("limits", "limits-after"):
            r["bf16_gemm_gflops_or_nan"] = r.get("bf16_gemm_gflops") or float("nan")
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")), "?")
    flags = next((l.split(":", 1)[1].split() for l in cpu.splitlines() if l.startswith("Flags")), [])
    isa = ", ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags)
    versions = {r["contender"]: r.get("runtime") for r in rows if r.get("runtime")}
    loom_dev = next((r["devices"][0]["description"] for r in rows if r["contender"] == "loom" and r.get("devices")), "?")

    def med(workload, threads, contender, key="median_ms"):
        v = [r[key] for r in rows if r["workload"] == workload and r["threads_asked"] == threads and r["contender"] == contender]
        return statistics.median(v) if v else float("nan")

    threads = sorted({r["threads_asked"] for r in rows})
    summary = {"date": datetime.date.today().isoformat(), "cpu": model, "isa": isa, "rounds": int(rounds),
               "iterations": int(iterations), "load_before": load_before, "load_after": load_after,
               "loom_device": loom_dev, "versions": versions, "limits": {}, "workloads": []}
    print()
    print(f"{datetime.date.today()}  cpu: {model} ({isa}); loom: {loom_dev}")
    print(f"{', '.join(f'{k}: {v}' for k, v in versions.items())}")
    print(f"{rounds} rounds x {iterations} timed runs each; load average {load_before} before, {load_after} after")
    for t in threads:
        g, bw = med("limits", t, "limits", "gemm_gflops"), med("limits", t, "limits", "read_gbps")
        summary["limits"][t] = {"gemm_gflops": g, "read_gbps": bw}
        b16 = med("limits", t, "limits", "bf16_gemm_gflops_or_nan")
        spread = [r["gemm_gflops"] for r in rows if r["contender"] in ("limits", "limits-after") and r["threads_asked"] == t]
        print(f"{t} thread(s): oneDNN f32 GEMM ceiling {g:.1f} GFLOP/s (from {min(spread):.1f} to {max(spread):.1f} over "
              f"the run), bf16 {b16:.1f}, memory read bandwidth {bw:.1f} GB/s")
    print()
    head = "| workload | threads | Loom (ms) | ONNX Runtime (ms) | PyTorch (ms) | limit (ms) | Loom / limit | ORT / limit | Loom / ORT |"
    print(head)
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    work_of = {"bert": ("BERT-base, 128 tokens", bert_flops(), "flops"),
               "gpt2-prompt": ("GPT-2 prompt, 128 tokens", gpt2_prompt_flops(), "flops"),
               "gpt2-decode": ("GPT-2 decode step after 128", gpt2_decode_bytes(), "bytes"),
               "vit": ("ViT-B/16, 224x224", vit_flops(), "flops"),
               "clip-image": ("CLIP ViT-B/32 image tower, 224x224", clip_image_flops(), "flops"),
               "clip-text": ("CLIP ViT-B/32 text tower, 77 tokens", clip_text_flops(), "flops")}
    present = [w for w in work_of if any(r["workload"] == w for r in rows)]
    targets = []
    for w in present:
        label, amount, kind = work_of[w]
        for t in threads:
            lo, ort, pt = med(w, t, "loom"), med(w, t, "ort"), med(w, t, "pytorch")
            limit_of = (lambda l: amount / (l["gemm_gflops"] * 1e9) * 1e3) if kind == "flops" else \
                (lambda l: amount / (l["read_gbps"] * 1e9) * 1e3)
            limit, lo_ratio, steady, rounds = paired(rows, w, t, "loom", limit_of)
            ort_ratio = paired(rows, w, t, "ort", limit_of)[1]
            summary["workloads"].append({"workload": w, "threads": t, "loom_ms": lo, "ort_ms": ort, "pytorch_ms": pt,
                                         "limit_ms": limit, "loom_ratio": lo_ratio, "ort_ratio": ort_ratio, kind: amount,
                                         "steady_rounds": steady, "rounds": rounds,
                                         "loom_peak_rss_mb": med(w, t, "loom", "peak_rss_mb")})
            print(f"| {label} | {t} | {lo:.2f} | {ort:.2f} | {pt:.2f} | {limit:.2f} | {lo_ratio:.2f}{steadiness(steady, rounds)} | "
                  f"{ort_ratio:.2f} | {lo / ort:.2f} |")
            if t in TARGET_OF_LIMIT:
                bound = TARGET_OF_LIMIT[t] if kind == "flops" else DECODE_TARGET
                met = {"faster than ONNX Runtime": lo < ort, "faster than PyTorch": lo < pt,
                       f"at most {bound:.2f}x the limit": lo_ratio <= bound}
                targets.append({"workload": w, "threads": t, **{k: bool(v) for k, v in met.items()}})
                verdict = "; ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in met.items())
                targets[-1]["line"] = f"{label}, {t} thread(s): {verdict}"
    summary["targets"] = targets
    bf16_table(rows, work, threads, summary, work_of, present, med)
    print()
    for tg in targets:
        print("target  " + tg["line"])
    print()
    print(f"limits: BERT {bert_flops() / 1e9:.2f} GFLOP, GPT-2 prompt {gpt2_prompt_flops() / 1e9:.2f} GFLOP (matmuls, with the "
          f"LM heads), GPT-2 decode step {gpt2_decode_bytes() / 1e6:.1f} MB of f32 weights; ViT-B/16 {vit_flops() / 1e9:.2f}, "
          f"CLIP image tower {clip_image_flops() / 1e9:.2f}, CLIP text tower {clip_text_flops() / 1e9:.2f} GFLOP (patch "
          f"embedding, projections, attention, MLP)")
    json.dump(summary, open(f"{work}/summary.json", "w"), indent=2)
    print(f"details: {results}, {work}/summary.json")


if __name__ == "__main__":
    main()
