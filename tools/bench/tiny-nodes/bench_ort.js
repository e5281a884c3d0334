#!/usr/bin/env node
// Times an ONNX model with ONNX Runtime's CPU execution provider (onnxruntime-node), the same
// way `loom bench` times a Loom graph: warm-up runs, then timed samples of --repeat runs each;
// prints the median, p10, p90 and min per run, and the median per node.
//
//   node tools/bench/tiny-nodes/bench_ort.js --ort-dir build/bench/ort --model chain.onnx \
//        --nodes 1000 --opt all [--input x.npy] [--expect y.npy] [--write-output y_ort.npy] [--json]
//
// --ort-dir is the folder onnxruntime-node was installed into:
//   ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix DIR onnxruntime-node@1.30
// Sessions run sequentially on one intra-op and one inter-op thread. --opt picks ONNX
// Runtime's graph optimisation level; --optimized-model writes the graph it actually runs.
// Exit status: 0 ok, 1 error or output mismatch, 2 usage.
'use strict';

const fs = require('fs');
const path = require('path');

function usage(msg) {
  process.stderr.write(`bench_ort.js: ${msg}\nRun with --help for usage.\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const a = {ortDir: process.env.ORT_NODE_DIR || '', model: '', nodes: 0, opt: 'all', warmup: 200, iterations: 200,
             repeat: 10, input: '', expect: '', writeOutput: '', optimizedModel: '', json: false, atol: 1e-5,
             rtol: 1e-5};
  const numeric = {'--nodes': 'nodes', '--warmup': 'warmup', '--iterations': 'iterations', '--repeat': 'repeat',
                   '--atol': 'atol', '--rtol': 'rtol'};
  const strings = {'--ort-dir': 'ortDir', '--model': 'model', '--opt': 'opt', '--input': 'input', '--expect': 'expect',
                   '--write-output': 'writeOutput', '--optimized-model': 'optimizedModel'};
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i];
    if (k === '--help' || k === '-h') {
      const text = fs.readFileSync(__filename, 'utf8').split('\n').filter(l => l.startsWith('//')).map(l => l.slice(3));
      process.stdout.write(text.join('\n') + '\n');
      process.exit(0);
    }
    if (k === '--json') { a.json = true; continue; }
    if (!(k in numeric) && !(k in strings)) usage(`unknown option '${k}'`);
    if (i + 1 >= argv.length) usage(`${k} needs a value`);
    const v = argv[++i];
    if (k in strings) { a[strings[k]] = v; continue; }
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) usage(`${k}: '${v}' is not a non-negative number`);
    a[numeric[k]] = n;
  }
  if (!a.model) usage('--model is required');
  if (!a.ortDir) usage('--ort-dir (or ORT_NODE_DIR) is required');
  if (!['disabled', 'basic', 'extended', 'all'].includes(a.opt)) usage(`--opt '${a.opt}': expected disabled, basic, extended or all`);
  for (const k of ['nodes', 'iterations', 'repeat', 'warmup'])
    if (!Number.isInteger(a[k])) usage(`--${k} must be an integer`);
  if (a.iterations < 1 || a.repeat < 1) usage('--iterations and --repeat must be at least 1');
  return a;
}

// ---------------------------------------------------------------- .npy (f32, C order, little-endian)

function readNpyF32(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  if (start > buf.length) throw new Error(`${file}: truncated header`);
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']*)'/.exec(header);
  const order = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !order || !shape) throw new Error(`${file}: unreadable header ${header.trim()}`);
  if (descr[1] !== '<f4') throw new Error(`${file}: dtype ${descr[1]}, expected <f4 (float32)`);
  if (order[1] !== 'False') throw new Error(`${file}: Fortran order is not supported`);
  const dims = shape[1].split(',').map(s => s.trim()).filter(s => s.length).map(Number);
  const count = dims.reduce((x, y) => x * y, 1);
  if (buf.length - start !== count * 4) throw new Error(`${file}: ${buf.length - start} data bytes, shape [${dims}] needs ${count * 4}`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; ++i) data[i] = buf.readFloatLE(start + 4 * i);
  return {dims, data};
}

function writeNpyF32(file, dims, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; ++i) body.writeFloatLE(data[i], 4 * i);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

// ---------------------------------------------------------------- main

async function main() {
  const a = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require(path.resolve(a.ortDir, 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    throw new Error(`cannot load onnxruntime-node from ${a.ortDir}: ${e.message}`);
  }
  const options = {executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1,
                   executionMode: 'sequential', graphOptimizationLevel: a.opt};
  if (a.optimizedModel) options.optimizedModelFilePath = path.resolve(a.optimizedModel);
  const session = await ort.InferenceSession.create(path.resolve(a.model), options);
  if (session.inputNames.length !== 1 || session.outputNames.length !== 1)
    throw new Error(`${a.model}: expected one input and one output, found ${session.inputNames.length} and ${session.outputNames.length}`);
  const inName = session.inputNames[0], outName = session.outputNames[0];

  let x;
  if (a.input) {
    x = readNpyF32(a.input);
  } else {
    const meta = session.inputMetadata[0];
    const dims = meta.shape.map(d => (typeof d === 'number' ? d : 1));
    const data = new Float32Array(dims.reduce((p, q) => p * q, 1));
    let s = 42;
    for (let i = 0; i < data.length; ++i) { s = (s * 1103515245 + 12345) % 2147483648; data[i] = s / 1073741824 - 1; }
    x = {dims, data};
  }
  const feeds = {[inName]: new ort.Tensor('float32', x.data, x.dims)};

  const first = await session.run(feeds);
  const y = first[outName];
  let check = null;
  if (a.writeOutput) writeNpyF32(a.writeOutput, y.dims, y.data);
  if (a.expect) {
    const ref = readNpyF32(a.expect);
    if (ref.dims.join(',') !== y.dims.join(','))
      throw new Error(`output shape [${y.dims}] differs from ${a.expect}'s [${ref.dims}]`);
    let maxErr = 0, bad = 0;
    for (let i = 0; i < ref.data.length; ++i) {
      const err = Math.abs(y.data[i] - ref.data[i]);
      if (!(err <= a.atol + a.rtol * Math.abs(ref.data[i]))) ++bad;
      if (!(err <= maxErr)) maxErr = err;
    }
    check = {ok: bad === 0, max_abs_error: maxErr};
    if (bad) {
      process.stderr.write(`bench_ort.js: mismatch: ${bad} of ${ref.data.length} elements of '${outName}' differ from ${a.expect} ` +
                           `beyond ${a.atol} + ${a.rtol}*|ref| (max |out-ref| = ${maxErr})\n`);
    }
  }

  for (let i = 0; i < a.warmup; ++i) await session.run(feeds);
  const samples = [];
  for (let i = 0; i < a.iterations; ++i) {
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < a.repeat; ++r) await session.run(feeds);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e3 / a.repeat);
  }
  samples.sort((p, q) => p - q);
  const pct = q => samples[Math.min(samples.length - 1, Math.round(q * (samples.length - 1)))];
  const median = pct(0.5);
  const result = {model: a.model, runtime: `onnxruntime-node ${ort.env.versions.common}`, opt: a.opt, threads: 1,
                  nodes: a.nodes, iterations: a.iterations, repeat: a.repeat, median_us: median, p10_us: pct(0.1),
                  p90_us: pct(0.9), min_us: samples[0], per_node_us: a.nodes ? median / a.nodes : 0,
                  peak_rss_bytes: process.resourceUsage().maxRSS * 1024};
  if (check) result.check = check;
  if (a.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } else {
    process.stdout.write(`${a.model} on ${result.runtime} (optimisation ${a.opt}), 1 thread, ${a.nodes} nodes, ` +
                         `${a.iterations} x ${a.repeat} runs\n`);
    process.stdout.write(`  median ${median.toFixed(3)} us  (p10 ${pct(0.1).toFixed(3)}, p90 ${pct(0.9).toFixed(3)}, min ${samples[0].toFixed(3)})\n`);
    if (a.nodes) process.stdout.write(`  per node ${(median / a.nodes).toFixed(4)} us\n`);
    if (check) process.stdout.write(`  output matches ${a.expect} (max |out-ref| = ${check.max_abs_error})\n`);
  }
  return check && !check.ok ? 1 : 0;
}

main().then(code => process.exit(code), e => {
  process.stderr.write(`bench_ort.js: error: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
