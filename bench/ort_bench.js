// Times ONNX Runtime (CPU execution provider, all graph optimizations) on one
// model, the way `kiln bench` times kiln, and prints one JSON line.
// usage: node ort_bench.js MODEL --threads N --batch B --warmup W --iters K
'use strict';
const ort = require('onnxruntime-node');
const fs = require('fs');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : def;
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const model = process.argv[2];
  const threads = parseInt(arg('threads', '1'), 10);
  const batch = parseInt(arg('batch', '1'), 10);
  const warmup = parseInt(arg('warmup', '3'), 10);
  const iters = parseInt(arg('iters', '20'), 10);
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const feeds = {};
  const meta = session.inputMetadata || [];
  session.inputNames.forEach((name, k) => {
    const m = meta[k] || {};
    let dims = (m.shape || [batch, 3, 224, 224]).map((d, i) => (typeof d === 'number' && d > 0 ? d : (i === 0 ? batch : 1)));
    if (typeof (m.shape || [])[0] !== 'number') dims[0] = batch;
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    let x = 12345;
    for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; data[i] = (x / 4294967296) * 2 - 1; }
    feeds[name] = new ort.Tensor('float32', data, dims);
  });
  for (let i = 0; i < warmup; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < iters; i++) {
    const s = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  let rss = 0;
  try {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const m = status.match(/VmHWM:\s+(\d+) kB/);
    if (m) rss = parseInt(m[1], 10) * 1024;
  } catch (e) { /* not Linux */ }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({
    runtime: 'onnxruntime', version: require('onnxruntime-node/package.json').version, model, threads, batch,
    median_ms: median(times), min_ms: times[0], p90_ms: times[Math.floor(times.length * 0.9)],
    load_ms: loadMs, peak_rss_bytes: rss,
  }));
}

main().catch((e) => { console.error('ort_bench: ' + e.message); process.exit(1); });
