#!/usr/bin/env bash
# Executor overhead: a chain of tiny add/mul nodes on Loom and on ONNX Runtime, same graph, same
# machine, same run. Prints the time per run and per node of each, the ratio Loom / ONNX Runtime,
# and the cost of one oneDNN binary primitive call at the same size. See docs/performance.md.
#
#   tools/bench/tiny-nodes/run.sh [BUILD_DIR]        (default: ./build)
#
# Needs a built `loom` and oneDNN plugin in BUILD_DIR/bin (cmake --build BUILD_DIR --target
# loom_cli loom_onednn), /usr/bin/python3 with torch and numpy, node and npm, c++ and
# libdnnl-dev. onnxruntime-node is installed into BUILD_DIR/bench/ort on the first run; the
# graphs and results go to BUILD_DIR/bench/tiny-nodes. Settings (environment):
#   ROUNDS=5         rounds; each runs every contender once, in turn (the machine may be shared)
#   NODES=1000       nodes in the chain; WIDTH=16 elements per tensor
#   ITERATIONS=1000 REPEAT=1 WARMUP=200  timed samples, runs per sample, untimed runs first; one
#                                        run per sample keeps most samples between two preemptions
#   PYTHON=/usr/bin/python3
# Exits non-zero on errors (missing tools, a failed run, outputs that disagree), never because
# of the timings.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "run.sh: build folder '${1:-build}' not found" >&2; exit 1; }
ROUNDS=${ROUNDS:-5}
NODES=${NODES:-1000}
WIDTH=${WIDTH:-16}
ITERATIONS=${ITERATIONS:-1000}
REPEAT=${REPEAT:-1}
WARMUP=${WARMUP:-200}
PYTHON=${PYTHON:-/usr/bin/python3}
LOOM=$BUILD/bin/loom
WORK=$BUILD/bench/tiny-nodes
ORT_DIR=$BUILD/bench/ort
ORT_VERSION=1.30

die() { echo "run.sh: $*" >&2; exit 1; }
[[ -x $LOOM ]] || die "$LOOM not found: build it first (cmake --build $BUILD --target loom_cli loom_onednn)"
[[ -f $BUILD/bin/loom-onednn.so ]] || die "$BUILD/bin/loom-onednn.so not found: cmake --build $BUILD --target loom_onednn"
for tool in node npm c++ "$PYTHON"; do command -v "$tool" >/dev/null || die "'$tool' not found"; done
for n in ROUNDS NODES WIDTH ITERATIONS REPEAT WARMUP; do
  [[ ${!n} =~ ^[0-9]+$ && ${!n} -ge 1 ]] || die "$n must be a positive integer, got '${!n}'"
done
mkdir -p "$WORK"

# ---------------------------------------------------------------- inputs of the benchmark

# The graphs: the chain, and a 2-node chain whose time is the fixed cost of a run.
generate() {  # folder nodes
  local out=$1 nodes=$2
  if [[ -f $out/chain.yaml && -f $out/chain.onnx && -f $out/stamp && $(cat "$out/stamp") == "$nodes $WIDTH" &&
        $out/chain.yaml -nt $HERE/make_chain.py ]]; then
    return
  fi
  echo "== generating a $nodes-node chain in $out"
  "$PYTHON" "$HERE/make_chain.py" --out "$out" --nodes "$nodes" --width "$WIDTH" >"$out.log" 2>&1 ||
    { cat "$out.log" >&2; die "make_chain.py failed"; }
  echo "$nodes $WIDTH" >"$out/stamp"
}
generate "$WORK/chain" "$NODES"
generate "$WORK/short" 2

if [[ ! -f $ORT_DIR/node_modules/onnxruntime-node/package.json ]]; then
  echo "== installing onnxruntime-node@$ORT_VERSION into $ORT_DIR"
  mkdir -p "$ORT_DIR"
  ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$ORT_DIR" --no-audit --no-fund "onnxruntime-node@$ORT_VERSION" >"$ORT_DIR/npm.log" 2>&1 ||
    { cat "$ORT_DIR/npm.log" >&2; die "npm install onnxruntime-node@$ORT_VERSION failed"; }
fi

PRIM=$BUILD/bench/onednn_binary
if [[ ! -x $PRIM || $HERE/onednn_binary.cpp -nt $PRIM ]]; then
  echo "== compiling $PRIM"
  c++ -O2 -std=c++17 -Wall -Wextra "$HERE/onednn_binary.cpp" -ldnnl -o "$PRIM"
fi

# ---------------------------------------------------------------- outputs agree

export OMP_NUM_THREADS=1
ort() { node "$HERE/bench_ort.js" --ort-dir "$ORT_DIR" "$@"; }
echo "== checking outputs on $WORK/chain/x.npy"
for opt in all disabled; do
  ort --model "$WORK/chain/chain.onnx" --nodes "$NODES" --opt "$opt" --input "$WORK/chain/x.npy" --expect "$WORK/chain/y.npy" \
      --write-output "$WORK/chain/y_ort_$opt.npy" --optimized-model "$WORK/chain/ort_$opt.onnx" \
      --warmup 0 --iterations 1 --repeat 1 --json >"$WORK/check_ort_$opt.json" 2>"$WORK/check_ort_$opt.err" ||
    { cat "$WORK/check_ort_$opt.err" >&2; die "ONNX Runtime ($opt) failed or disagrees with PyTorch"; }
  "$PYTHON" "$HERE/make_chain.py" --count "$WORK/chain/ort_$opt.onnx" >"$WORK/ort_${opt}_ops.json"
done
"$LOOM" run "$WORK/chain/chain.yaml" --backend onednn --threads 1 --input "x=$WORK/chain/x.npy" \
  --expect "y=$WORK/chain/y_ort_all.npy" --atol 1e-5 --rtol 1e-5 >"$WORK/check_loom.txt" ||
  die "Loom's output differs from ONNX Runtime's (see above)"
cat "$WORK/check_loom.txt"

# ---------------------------------------------------------------- timing, interleaved

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
record() {  # tag, then a command printing one JSON object
  local tag=$1; shift
  "$@" >"$WORK/last.json" || die "'$*' failed"
  "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["tag"]=sys.argv[2]; print(json.dumps(d))' \
    "$WORK/last.json" "$tag" >>"$RESULTS"
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
short_repeat=$((REPEAT * 10))
for ((r = 1; r <= ROUNDS; ++r)); do
  echo "== round $r of $ROUNDS (load $(cut -d' ' -f1 /proc/loadavg))"
  record loom "$LOOM" bench "$WORK/chain/chain.yaml" --backend onednn --threads 1 --warmup "$WARMUP" \
    --iterations "$ITERATIONS" --repeat "$REPEAT" --json
  for opt in all disabled; do
    record "ort_$opt" ort --model "$WORK/chain/chain.onnx" --nodes "$NODES" --opt "$opt" --warmup "$WARMUP" \
      --iterations "$ITERATIONS" --repeat "$REPEAT" --json
  done
  record loom_short "$LOOM" bench "$WORK/short/chain.yaml" --backend onednn --threads 1 --warmup "$WARMUP" \
    --iterations "$ITERATIONS" --repeat "$short_repeat" --json
  record ort_short ort --model "$WORK/short/chain.onnx" --nodes 2 --opt all --warmup "$WARMUP" \
    --iterations "$ITERATIONS" --repeat "$short_repeat" --json
  record onednn "$PRIM" --width "$WIDTH" --iterations "$ITERATIONS" --repeat 1000
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- summary

"$PYTHON" - "$RESULTS" "$WORK" "$NODES" "$WIDTH" "$ROUNDS" "$load_before" "$load_after" <<'EOF'
import json, statistics, subprocess, sys
results, work, nodes, width, rounds, load_before, load_after = sys.argv[1:]
rows = [json.loads(l) for l in open(results)]
by = {}
for r in rows:
    by.setdefault(r["tag"], []).append(r)

def med(tag, key="median_us"):
    return statistics.median(r[key] for r in by[tag])

cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")), "?")
ops = {o: json.load(open(f"{work}/ort_{o}_ops.json")) for o in ("all", "disabled")}
ort_version = by["ort_all"][0]["runtime"]
prim = by["onednn"]
summary = {
    "graph": f"{nodes} add/mul nodes, f32 [1, {width}], 1 thread", "rounds": int(rounds), "cpu": model,
    "load_before": load_before, "load_after": load_after, "ort": ort_version,
    "ort_nodes_after_optimisation": {o: ops[o]["nodes"] for o in ops},
}
print()
print(f"tiny-node chain: {nodes} add/mul nodes on f32 [1, {width}], 1 thread, {rounds} interleaved rounds")
print(f"cpu: {model}; load average {load_before} before, {load_after} after")
print(f"{'':36}{'per run (us)':>14}{'per node (us)':>15}{'min per node':>14}")
for tag, label in (("loom", "loom (onednn backend)"), ("ort_all", f"{ort_version}, opt all"),
                   ("ort_disabled", f"{ort_version}, opt disabled")):
    m, lo = med(tag), min(r["min_us"] for r in by[tag])
    summary[tag] = {"median_us": m, "per_node_us": m / int(nodes), "min_per_node_us": lo / int(nodes),
                    "round_medians_us": [r["median_us"] for r in by[tag]]}
    print(f"{label:36}{m:14.2f}{m / int(nodes):15.4f}{lo / int(nodes):14.4f}")
pe = statistics.median(r["execute_us"]["median"] for r in prim)
pb = statistics.median(r["bind_execute_us"]["median"] for r in prim)
summary["onednn_primitive"] = {"execute_us": pe, "bind_execute_us": pb, "version": prim[0]["onednn"], "impl": prim[0]["impl"]}
print(f"{'oneDNN ' + prim[0]['onednn'] + ' binary add, one call':36}{'':14}{pe:15.4f}   (with 3 handle binds: {pb:.4f})")
ls, os_ = med("loom_short"), med("ort_short")
summary["fixed_per_run_us"] = {"loom": ls, "ort_all": os_}
print(f"fixed cost of a run (2-node chain): loom {ls:.2f} us, ONNX Runtime {os_:.2f} us")
for o in ("all", "disabled"):
    ratio = summary["loom"]["per_node_us"] / summary[f"ort_{o}"]["per_node_us"]
    summary[f"ratio_loom_over_ort_{o}"] = ratio
    print(f"Loom / ONNX Runtime (opt {o}) per node: {ratio:.3f}")
print(f"ONNX Runtime's optimised graphs keep {ops['all']['nodes']} (all) and {ops['disabled']['nodes']} (disabled) nodes: "
      + ("no fusion, both levels measure per-node cost" if ops["all"]["nodes"] == int(nodes) else "'all' fused nodes: compare with 'disabled'"))
json.dump(summary, open(f"{work}/summary.json", "w"), indent=2)
print(f"details: {work}/results.jsonl, {work}/summary.json")
EOF
