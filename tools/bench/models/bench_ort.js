#!/usr/bin/env node
// ONNX Runtime side of tools/bench/models/run.sh: times an ONNX model exported by
// torch_models.py on the CPU execution provider (onnxruntime-node), with generated inputs: token
// ids in the vocabulary, masks of ones, token types of zeros, past keys and values and pixel
// values of random values in [-1, 1]. Prints one JSON line with median_ms, p90_ms and min_ms.
//
//   node bench_ort.js --ort-dir DIR --model M.onnx --threads N [--vocab V] [--warmup 3] [--iterations 20]
//
// --vocab is required when the model takes input_ids.
'use strict';

const path = require('path');

function parseArgs(argv) {
  const a = {ortDir: '', model: '', threads: 1, vocab: 0, warmup: 3, iterations: 20};
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(k in a) || i + 1 >= argv.length) throw new Error(`bad option '${argv[i]}'`);
    a[k] = typeof a[k] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
    if (typeof a[k] === 'number' && !(Number.isInteger(a[k]) && a[k] >= 0)) throw new Error(`${argv[i]}: not a whole number`);
  }
  if (!a.model || !a.ortDir || a.iterations < 1) throw new Error('--model, --ort-dir and --iterations >= 1 are required');
  return a;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const ort = require(path.resolve(a.ortDir, 'node_modules', 'onnxruntime-node'));
  const session = await ort.InferenceSession.create(path.resolve(a.model), {
    executionProviders: ['cpu'], intraOpNumThreads: a.threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all'});
  if (session.inputNames.includes('input_ids') && a.vocab < 1) throw new Error(`${a.model} takes input_ids: --vocab is required`);
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const feeds = {};
  session.inputNames.forEach((name, i) => {
    const meta = session.inputMetadata[i];
    const dims = meta.shape.map(d => (typeof d === 'number' ? d : 1));
    const n = dims.reduce((p, q) => p * q, 1);
    if (meta.type === 'int64') {
      const v = new BigInt64Array(n);
      for (let k = 0; k < n; ++k) v[k] = name === 'input_ids' ? BigInt(Math.floor(rand() * a.vocab)) : (name === 'attention_mask' ? 1n : 0n);
      feeds[name] = new ort.Tensor('int64', v, dims);
    } else {
      const v = new Float32Array(n);
      for (let k = 0; k < n; ++k) v[k] = rand() * 2 - 1;
      feeds[name] = new ort.Tensor('float32', v, dims);
    }
  });
  for (let i = 0; i < a.warmup; ++i) await session.run(feeds);
  const samples = [];
  for (let i = 0; i < a.iterations; ++i) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  samples.sort((p, q) => p - q);
  const pct = q => samples[Math.min(samples.length - 1, Math.round(q * (samples.length - 1)))];
  process.stdout.write(JSON.stringify({runtime: `onnxruntime-node ${ort.env.versions.common}`, threads: a.threads,
                                       iterations: a.iterations, median_ms: pct(0.5), p90_ms: pct(0.9), min_ms: samples[0],
                                       peak_rss_mb: process.resourceUsage().maxRSS / 1024}) + '\n');
}

main().catch(e => {
  process.stderr.write(`bench_ort.js: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
