// The soak benchmark (issue 16): a bounded soak of the local server (runtime/src:
// configFromEnv -> InferenceService -> startLocalServer, as `serverless-tf serve` runs it,
// wasm backend, demo model) under a mix of normal and hostile requests, against the
// minimal hand-written server of bench/load.mjs (`--baseline-server`) under the same
// normal requests. Are resident memory and the tensor count flat over 5000 requests?
//
// Ours gets `--requests` requests (default 5000) at concurrency 8: every 10th is hostile
// (the inputs issue 16 lists, generated here, in turn), the others POST /classify of the
// sample photographs in turn. Every answer's status is checked against the expected one
// (hostile: status and the reason in its message; normal: 200 with the top-1 label of the
// first answer for that photo), and the first normal answer after each hostile one is
// counted separately. The baseline has no defences, so it gets the normal requests only,
// the same ones in the same order. The two servers run in interleaved blocks of
// `--every` of ours' requests (the baseline's block is the normal requests of ours'),
// who goes first alternating, so other work on a shared machine lands on both. After
// each block, tensors and RSS (after a forced GC) are read in each server process.
//
// Afterwards (unless --no-probe) each hostile input is sent once to a fresh baseline
// process, to say what the defences are for.
//
// Writes the "## Soak under hostile load (issue 16)" section of BENCHMARKS.md.
//
//   node bench/soak.mjs [--requests 5000] [--time-limit 600] [--concurrency 8] [--every 500]
//                       [--window 1000] [--no-probe] [--no-write] [--json FILE]
//
// Exits 1 when any answer is a 5xx or a request fails at the transport (a crashed server).
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { BENCH_DIR, bundleServer, loadSamples, loadTask, machineInfo, missingPrerequisites, MODEL_DIR, MODEL_NAME, percentile, RUNTIME_DIR, writeSection } from './lib.mjs';

const SECTION = '## Soak under hostile load (issue 16)';
const HOSTILE_EVERY = 10; // every 10th request of ours is hostile
const PROBE_TIMEOUT_MS = 30_000;

// ---- our server, bundled from runtime/src --------------------------------------------------

/** The entry that serves the model, with a `stats` answer that also reports the wasm heap and tf.memory() bytes. */
function buildOurServer(outfile) {
  return bundleServer(outfile, 'soak-server.ts', `
        import { MAX_IMAGES_PER_REQUEST, MAX_JPEG_SCANS, MAX_TENSOR_RANK } from './src/constants';
        const config = configFromEnv();
        const service = await InferenceService.create(config, createObservability(config.modelName));
        const server = await startLocalServer(service, { port: 0, host: '127.0.0.1' });
        process.on('message', (msg) => {
          if (msg.type === 'stats') {
            globalThis.gc?.();
            const m = process.memoryUsage();
            const mem = tf.memory();
            const heap = tf.backend()?.wasm?.HEAPU8?.byteLength;
            process.send({ type: 'stats', numTensors: mem.numTensors, numBytes: mem.numBytes, rss: m.rss, heapUsed: m.heapUsed, external: m.external, wasmHeap: heap });
          } else if (msg.type === 'exit') {
            void server.close();
            process.disconnect();
          }
        });
        process.send({ type: 'ready', url: server.url, backend: service.info.backend.name, maxImagePixels: config.maxImagePixels, maxBodyBytes: config.maxBodyBytes, limits: { images: MAX_IMAGES_PER_REQUEST, scans: MAX_JPEG_SCANS, rank: MAX_TENSOR_RANK } });
`);
}

// ---- the hostile inputs of issue 16, generated --------------------------------------------

/** `[[[...[1]...]]]`, `depth` arrays deep, as JSON text (JSON.stringify would overflow the stack). */
const nested = (depth) => '['.repeat(depth) + '1' + ']'.repeat(depth);

/** A progressive JPEG (side x side, grey) with its last scan repeated `extra` more times: a scan bomb's shape. */
async function scanBomb(side, extra) {
  const jpeg = await sharp({ create: { width: side, height: side, channels: 3, background: { r: 90, g: 90, b: 90 } } }).greyscale().jpeg({ progressive: true, quality: 60 }).toBuffer();
  let i = 2;
  let last;
  while (i < jpeg.length && jpeg[i + 1] !== 0xd9) {
    const marker = jpeg[i + 1];
    const length = jpeg.readUInt16BE(i + 2);
    if (marker !== 0xda) { i += 2 + length; continue; }
    let j = i + 2 + length; // the scan's entropy-coded data runs to the next marker
    while (!(jpeg[j] === 0xff && jpeg[j + 1] !== 0x00 && !(jpeg[j + 1] >= 0xd0 && jpeg[j + 1] <= 0xd7))) j++;
    last = [i, j];
    i = j;
  }
  const scan = jpeg.subarray(last[0], last[1]);
  return Buffer.concat([jpeg.subarray(0, last[1]), ...Array(extra).fill(scan), jpeg.subarray(last[1])]);
}

/** The hostile requests, each with the status and the reason (in the JSON error) ours must answer. */
async function hostileInputs(input, maxImagePixels) {
  const onePixel = (await sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer()).toString('base64');
  const shape = input.shape.map((d, i) => (d > 0 ? d : i === 0 ? 1 : 224));
  const size = shape.reduce((a, b) => a * b, 1);
  const v2 = (data) => `{"inputs":[{"name":${JSON.stringify(input.name)},"shape":${JSON.stringify(shape)},"datatype":"FP32","data":${data}}]}`;
  const noise = Buffer.alloc(256 * 256 * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24; // deterministic noise
  const fullJpeg = await sharp(noise, { raw: { width: 256, height: 256, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  // Just over the pixel limit: a square of side ceil(sqrt(limit + 1)), one colour (small PNG).
  const side = Math.ceil(Math.sqrt(maxImagePixels + 1));
  const bigPng = await sharp({ create: { width: side, height: side, channels: 3, background: { r: 20, g: 120, b: 60 } } }).png({ compressionLevel: 9 }).toBuffer();
  const json = (text) => ({ body: Buffer.from(text), type: 'application/json' });
  return [
    { id: 'images512', what: `512 one-pixel PNGs as \`{"instances":[{"b64":...}]}\` to \`POST /v1/models/${MODEL_NAME}:predict\``, path: `/v1/models/${MODEL_NAME}:predict`, ...json(JSON.stringify({ instances: Array.from({ length: 512 }, () => ({ b64: onePixel })) })), expect: 413, reason: /512 images; the limit is \d+ images per request/ },
    { id: 'deep', what: 'JSON nested 100,000 deep as the `data` of a KServe V2 FP32 input', path: `/v2/models/${MODEL_NAME}/infer`, ...json(v2(nested(100_000))), expect: 422, reason: /nested more than \d+ deep/ },
    { id: 'scans', what: 'a 3000x3000 progressive JPEG with its last scan repeated 2000 times (2000+ scans) to `POST /classify`', path: '/classify', body: await scanBomb(3000, 2000), type: 'image/jpeg', expect: 422, reason: /more than \d+ scans/ },
    { id: 'truncated', what: 'a 256x256 JPEG cut at half its bytes to `POST /classify`', path: '/classify', body: fullJpeg.subarray(0, fullJpeg.length >> 1), type: 'image/jpeg', expect: 400, reason: /corrupt or truncated/ },
    { id: 'pixels', what: `a ${side}x${side} PNG (${side * side} pixels, over the ${maxImagePixels} pixel limit) to \`POST /classify\``, path: '/classify', body: bigPng, type: 'image/png', expect: 413, reason: /the limit is \d+ pixels/ },
    { id: 'fp32', what: `\`1e39\` (past float32's range) among ${size} values of a KServe V2 FP32 input of shape ${JSON.stringify(shape)}`, path: `/v2/models/${MODEL_NAME}/infer`, ...json(v2(`[1e39${',0'.repeat(size - 1)}]`)), expect: 422, reason: /out of its range/ },
  ];
}

// ---- the driver ----------------------------------------------------------------------------

async function main(opts) {
  const started = performance.now();
  const log = (msg) => console.log(`[soak ${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s] ${msg}`);
  const missing = missingPrerequisites().filter((m) => !m.includes('handler.mjs'));
  if (missing.length) {
    for (const m of missing) console.error(`bench: ${m}`);
    process.exit(1);
  }
  const dir = mkdtempSync(join(tmpdir(), 'serverless-tf-soak-'));
  symlinkSync(join(RUNTIME_DIR, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const children = [];
  const cleanup = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill();
    try {
      unlinkSync(join(dir, 'node_modules'));
      rmSync(dir, { recursive: true, force: true });
    } catch { /* best effort */ }
  };
  process.once('SIGINT', () => process.exit(130));
  process.on('exit', cleanup);

  const oursScript = await buildOurServer(join(dir, 'server.mjs'));
  const machine = machineInfo();
  const samples = loadSamples();
  const env = {
    ...process.env,
    SERVERLESS_TF_MODEL_URI: MODEL_DIR,
    SERVERLESS_TF_TASK: JSON.stringify(loadTask()),
    SERVERLESS_TF_BACKEND: 'wasm',
    SERVERLESS_TF_MODEL_NAME: MODEL_NAME,
    // As `serverless-tf serve`: no CloudWatch locally; warnings and errors still logged.
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };
  // The defaults `serverless-tf serve` runs with (off the Lambda, the pixel limit is 40 MP).
  for (const name of ['SERVERLESS_TF_COALESCE_MAX_ROWS', 'SERVERLESS_TF_COALESCE_MAX_WAIT_MS', 'SERVERLESS_TF_BATCH_MAX_SIZE', 'SERVERLESS_TF_BATCH_MAX_WAIT_MS', 'SERVERLESS_TF_MAX_IMAGE_PIXELS', 'SERVERLESS_TF_MAX_BODY_BYTES', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE']) delete env[name];

  /** A server child on 127.0.0.1: our bundle, or load.mjs's hand-written baseline. */
  async function startServer(id) {
    const [script, args] = id === 'ours' ? [oursScript, []] : [join(BENCH_DIR, 'load.mjs'), ['--baseline-server']];
    const child = fork(script, args, { cwd: RUNTIME_DIR, env, execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    children.push(child);
    const exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }));
    const [ready] = await Promise.race([once(child, 'message'), exited.then((e) => { throw new Error(`${id} exited before it was ready (${e.code ?? e.signal})`); })]);
    const stats = async () => {
      child.send({ type: 'stats' });
      const [reply] = await once(child, 'message');
      return reply;
    };
    return { id, child, url: ready.url, ready, stats, exited };
  }

  const ours = await startServer('ours');
  const baseline = await startServer('baseline');
  log(`${machine.cpu}, ${machine.cores} cores, node ${machine.node}; ours on ${ours.url} (${ours.ready.backend}, pixel limit ${ours.ready.maxImagePixels}), baseline on ${baseline.url}`);
  let crashed;
  let stopping = false;
  for (const s of [ours, baseline]) void s.exited.then((e) => { if (!stopping) crashed ??= `${s.id} exited during the soak (${e.code ?? e.signal})`; });

  opts.maxImagePixelsText = `${ours.ready.maxImagePixels} pixels per image, ${ours.ready.maxBodyBytes} bytes per body, ${ours.ready.limits.images} images per request, ${ours.ready.limits.scans} scans per JPEG, ${ours.ready.limits.rank} dimensions per JSON tensor`;
  const metadata = await (await fetch(`${ours.url}/v2/models/${MODEL_NAME}`)).json();
  const hostile = await hostileInputs(metadata.inputs[0], ours.ready.maxImagePixels);
  log(`hostile inputs: ${hostile.map((h) => `${h.id} ${(h.body.length / 1024).toFixed(0)} KiB -> ${h.expect}`).join(', ')}`);

  // Warm-up: every photograph twice per loop on each server; the first answer per photo is the reference.
  const reference = {};
  const baselineReference = {};
  const warm = Array.from({ length: 2 * samples.length }, (_, j) => normalItem(samples, j, -1));
  for (const [server, ref] of [[ours, reference], [baseline, baselineReference]]) {
    for (const item of warm) {
      const res = await post(server.url, item);
      if (res.status !== 200) throw new Error(`warm-up: ${server.id} answered ${res.status} for ${item.sample.name}: ${res.text.slice(0, 200)}`);
      ref[item.sample.name] ??= JSON.parse(res.text).predictions[0].label;
    }
    await drive(server.url, Array.from({ length: 2 * opts.concurrency }, (_, j) => normalItem(samples, j, -1)), opts.concurrency, Infinity, () => {});
  }
  log(`reference top-1 (ours): ${samples.map((s) => `${s.name} ${reference[s.name]}`).join(', ')}`);

  // The schedule: request i of ours is hostile when i % 10 == 9 (the kinds in turn), else the next photograph.
  const schedule = [];
  let normals = 0;
  for (let i = 0; i < opts.requests; i++) {
    schedule.push((i + 1) % HOSTILE_EVERY === 0 ? { i, kind: 'hostile', hostile: hostile[((i + 1) / HOSTILE_EVERY - 1) % hostile.length] } : normalItem(samples, normals++, i));
  }

  const checkpoints = [];
  const checkpoint = async (label, oursDone, baselineDone) => {
    const [o, b] = [await ours.stats(), await baseline.stats()];
    checkpoints.push({ label, oursDone, baselineDone, ours: o, baseline: b, atS: (performance.now() - soakStart) / 1000 });
    log(`checkpoint ${String(label).padStart(5)}: ours ${oursDone} requests, RSS ${mib(o.rss)} MiB, tensors ${o.numTensors}, wasm heap ${mib(o.wasmHeap)} MiB | baseline ${baselineDone} requests, RSS ${mib(b.rss)} MiB, tensors ${b.numTensors}`);
  };
  const loadBefore = loadavg()[0];
  const soakStart = performance.now();
  await checkpoint('start', 0, 0);

  const tally = {
    ours: { latencies: [], wrong: [], fatal: [], sent: 0 },
    baseline: { latencies: [], wrong: [], fatal: [], sent: 0 },
    hostile: Object.fromEntries(hostile.map((h) => [h.id, { count: 0, ok: 0, statuses: {}, latencies: [], unexpected: [] }])),
    afterHostile: { checked: 0, ok: 0, failures: [] },
  };
  let pendingHostile = []; // hostile answers not yet followed by a normal answer
  const onOurs = (item, res) => {
    if (res.error || res.status >= 500) {
      tally.ours.fatal.push(`${item.kind === 'hostile' ? item.hostile.id : item.sample.name}: ${res.error ? String(res.error.cause?.message ?? res.error.message) : `${res.status} ${res.text.slice(0, 200)}`}`);
    }
    if (item.kind === 'hostile') {
      const h = tally.hostile[item.hostile.id];
      h.count++;
      h.statuses[res.status ?? 'no answer'] = (h.statuses[res.status ?? 'no answer'] ?? 0) + 1;
      h.latencies.push(res.ms);
      if (res.status === item.hostile.expect && item.hostile.reason.test(res.text)) h.ok++;
      else if (h.unexpected.length < 3) h.unexpected.push(`${res.status}: ${(res.text ?? String(res.error)).slice(0, 200)}`);
      pendingHostile.push(item.hostile.id);
      return;
    }
    const label = res.status === 200 ? safeTop1(res.text) : undefined;
    const correct = label === reference[item.sample.name];
    if (res.status === 200) tally.ours.latencies.push({ i: item.i, ms: res.ms });
    if (!correct && tally.ours.wrong.length < 20) tally.ours.wrong.push(`request ${item.i} ${item.sample.name}: ${res.status} ${label ?? (res.text ?? '').slice(0, 200)}`);
    if (!correct) tally.ours.wrongCount = (tally.ours.wrongCount ?? 0) + 1;
    if (pendingHostile.length) {
      tally.afterHostile.checked += pendingHostile.length;
      if (correct) tally.afterHostile.ok += pendingHostile.length;
      else if (tally.afterHostile.failures.length < 5) tally.afterHostile.failures.push(`after ${pendingHostile.join(', ')}: ${item.sample.name} ${res.status} ${label}`);
      pendingHostile = [];
    }
  };
  const onBaseline = (item, res) => {
    if (res.error || res.status >= 500) tally.baseline.fatal.push(`${item.sample.name}: ${res.error ? String(res.error.cause?.message ?? res.error.message) : `${res.status} ${res.text.slice(0, 200)}`}`);
    const label = res.status === 200 ? safeTop1(res.text) : undefined;
    if (res.status === 200) tally.baseline.latencies.push({ i: item.i, ms: res.ms });
    if (label !== baselineReference[item.sample.name]) tally.baseline.wrongCount = (tally.baseline.wrongCount ?? 0) + 1;
  };

  // Interleaved blocks of `every` of ours' requests; the baseline's block is the normal requests among them.
  const deadline = soakStart + opts.timeLimit * 1000;
  let slowestPairMs = 0;
  let timedOut = false;
  for (let from = 0, block = 0; from < schedule.length; from += opts.every, block++) {
    if (crashed || tally.ours.fatal.length || tally.baseline.fatal.length) break;
    if (performance.now() + slowestPairMs > deadline) { timedOut = true; break; }
    const pairStart = performance.now();
    const oursItems = schedule.slice(from, from + opts.every);
    let oursSent = oursItems.length; // until ours has run: the baseline then gets the normal requests of the whole block
    const runOurs = async () => {
      oursSent = await drive(ours.url, oursItems, opts.concurrency, deadline, onOurs);
      tally.ours.sent += oursSent;
    };
    // The baseline's block: the normal requests among those ours was sent (bounded by their count, not by the deadline).
    const runBaseline = async () => {
      tally.baseline.sent += await drive(baseline.url, oursItems.slice(0, oursSent).filter((x) => x.kind === 'normal'), opts.concurrency, Infinity, onBaseline);
    };
    if (block % 2 === 0) { await runOurs(); await runBaseline(); } else { await runBaseline(); await runOurs(); }
    slowestPairMs = Math.max(slowestPairMs, performance.now() - pairStart);
    if (tally.ours.sent < from + oursItems.length) timedOut = true;
    await checkpoint(tally.ours.sent, tally.ours.sent, tally.baseline.sent);
    if (timedOut) break;
  }
  const soakS = (performance.now() - soakStart) / 1000;
  machine.load = `${loadBefore.toFixed(2)} at the start of the soak, ${loadavg()[0].toFixed(2)} at its end`;
  machine.busy = Math.max(loadBefore, loadavg()[0]) > machine.cores / 2;
  stopping = true;
  for (const s of [ours, baseline]) if (s.child.connected) s.child.send({ type: 'exit' });

  const probe = opts.probe && !crashed ? await probeBaseline(startServer, hostile, samples, log) : undefined;

  const totalS = (performance.now() - started) / 1000;
  log(`done in ${totalS.toFixed(0)} s (soak ${soakS.toFixed(0)} s)`);
  const result = { machine, opts, reference, baselineReference, checkpoints, tally, hostile, probe, soakS, totalS, timedOut, crashed, windows: windows(tally, opts.window, tally.ours.sent) };
  const section = renderSection(result);
  console.log(`\n${section}`);
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ ...result, hostile: hostile.map(({ body, reason, ...h }) => ({ ...h, bytes: body.length, reason: String(reason) })) }, null, 2));
  if (opts.write) log(`wrote the "${SECTION.slice(3)}" section of ${writeSection(SECTION, section)}`);
  const fatal = [...tally.ours.fatal, ...tally.baseline.fatal];
  if (fatal.length || crashed) {
    console.error(`bench: ${crashed ?? ''} ${fatal.length} answer(s) were 5xx or failed at the transport: ${fatal.slice(0, 5).join(' | ')}`);
    process.exitCode = 1;
  }
}

/** Normal request j: the photographs in turn; `i` its index in ours' schedule (-1 for warm-up). */
function normalItem(samples, j, i) {
  const sample = samples[j % samples.length];
  return { i, j, kind: 'normal', sample, path: '/classify', body: sample.bytes, type: sample.type };
}

async function post(url, item, signal) {
  const t0 = performance.now();
  const { path, body, type } = item.kind === 'hostile' ? item.hostile : item;
  try {
    const res = await fetch(`${url}${path}`, { method: 'POST', body, headers: { 'content-type': type }, signal });
    const text = await res.text();
    return { status: res.status, text, ms: performance.now() - t0 };
  } catch (error) {
    return { error, ms: performance.now() - t0 };
  }
}

/** `items` from `concurrency` loops, each sending its next when its answer has arrived; stops at `deadline`. Returns how many were sent. */
async function drive(url, items, concurrency, deadline, onAnswer) {
  let next = 0;
  const loop = async () => {
    while (next < items.length && performance.now() < deadline) {
      const item = items[next++];
      onAnswer(item, await post(url, item));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return next;
}

function safeTop1(text) {
  try {
    return JSON.parse(text).predictions?.[0]?.label;
  } catch {
    return undefined;
  }
}

/** p50 and p99 of the normal answers of each window of `size` of ours' requests, for both servers. */
function windows(tally, size, sent) {
  const out = [];
  for (let from = 0; from < sent; from += size) {
    const pick = (list) => list.filter((x) => x.i >= from && x.i < from + size).map((x) => x.ms);
    const o = pick(tally.ours.latencies);
    const b = pick(tally.baseline.latencies);
    out.push({ from, to: Math.min(from + size, sent), ours: { n: o.length, p50: percentile(o, 50), p99: percentile(o, 99) }, baseline: { n: b.length, p50: percentile(b, 50), p99: percentile(b, 99) } });
  }
  return out;
}

// ---- what the baseline does with the hostile inputs ----------------------------------------

/** Each hostile input once to a fresh baseline (not the soaked one), then a photograph; at most 30 s each. */
async function probeBaseline(startServer, hostile, samples, log) {
  const server = await startServer('baseline');
  const normal = normalItem(samples, 0, -1);
  await post(server.url, normal);
  const before = await server.stats();
  const rows = [];
  // The scan bomb last: libjpeg keeps decoding it after the request is abandoned.
  const order = [...hostile.filter((h) => h.id !== 'scans'), ...hostile.filter((h) => h.id === 'scans')];
  for (const h of [...order, { id: 'photo', what: `${normal.sample.name} (a normal request, after the hostile ones)` }]) {
    const item = h.id === 'photo' ? normal : { kind: 'hostile', hostile: h };
    const res = await post(server.url, item, AbortSignal.timeout(PROBE_TIMEOUT_MS));
    const stats = await Promise.race([server.stats(), new Promise((r) => setTimeout(() => r(undefined), 5000))]);
    const error = res.error ? (res.error.name === 'TimeoutError' ? `no answer in ${PROBE_TIMEOUT_MS / 1000} s` : String(res.error.cause?.message ?? res.error.message)) : undefined;
    const answer = (error ?? `${res.status} ${res.status === 200 ? safeTop1(res.text) ?? '' : String(safeJson(res.text)?.error ?? res.text).split('\n')[0].slice(0, 80)}`).trim();
    rows.push({ id: h.id, answer, ms: res.ms, rss: stats?.rss, tensors: stats?.numTensors });
    log(`probe baseline ${h.id}: ${answer} in ${res.ms.toFixed(0)} ms; RSS ${stats ? mib(stats.rss) : '?'} MiB`);
  }
  server.child.kill();
  return { before, rows };
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// ---- the report ----------------------------------------------------------------------------

function renderSection(r) {
  const { machine, opts, checkpoints, tally, hostile, probe, windows: wins } = r;
  const ratio = (a, b) => (Number.isFinite(a / b) && b > 0 ? (a / b).toFixed(2) : 'n/a');
  const first = checkpoints[0];
  const last = checkpoints[checkpoints.length - 1];
  const steadyFrom = checkpoints.find((c) => c.oursDone >= 1000) ?? first;
  const growth = (cp0, cp1, side) => (cp1[side].rss - cp0[side].rss) / 2 ** 20;
  const oursAll = tally.ours.latencies.map((x) => x.ms);
  const baseAll = tally.baseline.latencies.map((x) => x.ms);
  const tensorsSeen = [...new Set(checkpoints.map((c) => c.ours.numTensors))];
  const baseTensorsSeen = [...new Set(checkpoints.map((c) => c.baseline.numTensors))];
  const hostileSent = Object.values(tally.hostile).reduce((n, h) => n + h.count, 0);
  const hostileOk = Object.values(tally.hostile).reduce((n, h) => n + h.ok, 0);
  const oursNormal = tally.ours.sent - hostileSent;
  const L = [
    SECTION,
    '',
    `Measured ${machine.date} on ${machine.cpu} (${machine.arch}), ${machine.cores} cores, ${machine.ramGiB} GiB RAM, Node ${machine.node}; TensorFlow.js wasm backend on both servers; 1-minute load average ${machine.load}; the soak took ${r.soakS.toFixed(0)} s, the whole bench ${r.totalS.toFixed(0)} s.`,
    '',
  ];
  if (machine.busy) L.push('**Note:** other work was running on this machine during the soak (see the load average). Both servers were driven in interleaved blocks, so it lands on both and the ratios hold better than the absolute times.', '');
  if (r.timedOut) L.push(`**Note:** the time limit (${opts.timeLimit} s) ended the soak after ${tally.ours.sent} of ${opts.requests} requests (it stops before a block that would not end in time). At this run's pace, ${((tally.ours.sent + tally.baseline.sent) / r.soakS).toFixed(1)} requests per second for the two servers together, all ${opts.requests} would take about ${((opts.requests * (2 * HOSTILE_EVERY - 1)) / HOSTILE_EVERY / ((tally.ours.sent + tally.baseline.sent) / r.soakS)).toFixed(0)} s: raise \`--time-limit\`, or run on a quieter machine.`, '');
  L.push(
    `Reproduce in \`runtime/\` with \`node bench/soak.mjs\` (bundles the server from \`runtime/src\` with esbuild; needs the demo model: \`npm run demo-model\`). Options: \`--requests N\` (default 5000) \`--time-limit S\` (default 600, the soak phase) \`--concurrency N\` (default 8) \`--every N\` (checkpoint and interleaving block, default 500) \`--window N\` (latency window, default 1000) \`--no-probe\` \`--no-write\` \`--json FILE\`. This run: \`node bench/soak.mjs${opts.argv.length ? ` ${opts.argv.join(' ')}` : ''}\`.`,
    '',
    `**Ours**: the local server bundled from \`runtime/src\` (\`configFromEnv\` -> \`InferenceService\` -> \`startLocalServer\`, as \`serverless-tf serve\` runs it) with its default limits (${opts.maxImagePixelsText}). **Baseline**: the minimal hand-written \`node:http\` server of \`bench/load.mjs --baseline-server\` (\`bench/baseline.mjs\`'s sharp decode, resize, predict, top 5; no validation, limits, routes, logs or metrics). Both are child processes on 127.0.0.1, started with \`--expose-gc\`, and stay up for the whole soak.`,
    '',
    `**Load**: ${tally.ours.sent} requests to ours from ${opts.concurrency} concurrent loops (Node's fetch, keep-alive), each sending its next request when its answer has arrived: every ${HOSTILE_EVERY}th is hostile (${hostileSent} in all, the ${hostile.length} kinds below in turn), the other ${oursNormal} are \`POST /classify\` of the ${Object.keys(r.reference).length} photographs of \`runtime/samples\` in turn (raw bytes). The baseline gets the same ${tally.baseline.sent} normal requests in the same order, none of the hostile ones (it has no defences: see what they do to it below). The servers run in interleaved blocks of ${opts.every} of ours' requests and the baseline's ${opts.every * (HOSTILE_EVERY - 1) / HOSTILE_EVERY} normal ones among them, who goes first alternating, after a warm-up of ${2 * Object.keys(r.reference).length} sequential and ${2 * opts.concurrency} concurrent photographs each. At the start (after the warm-up) and after every block, each server process reports \`tf.memory().numTensors\` and its RSS after a forced GC; ours also the size of the wasm heap (which never shrinks). Every answer is checked: a hostile one must have its expected status and reason, a normal one 200 with the top-1 label of that server's first answer for the photograph (ours: ${Object.entries(r.reference).map(([k, v]) => `${k} ${v}`).join(', ')}).`,
    '',
    '| after request | ours RSS (MiB) | ours tensors | ours wasm heap (MiB) | ours V8 heap used (MiB) | baseline requests | baseline RSS (MiB) | baseline tensors |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const c of checkpoints) {
    L.push(`| ${c.label === 'start' ? '0 (after warm-up)' : c.oursDone} | ${mib(c.ours.rss)} | ${c.ours.numTensors} | ${mib(c.ours.wasmHeap)} | ${mib(c.ours.heapUsed)} | ${c.baselineDone} | ${mib(c.baseline.rss)} | ${c.baseline.numTensors} |`);
  }
  const g = { ours: growth(first, last, 'ours'), baseline: growth(first, last, 'baseline') };
  const gs = { ours: growth(steadyFrom, last, 'ours'), baseline: growth(steadyFrom, last, 'baseline') };
  L.push(
    '',
    '| | ours | baseline | ratio ours / baseline |',
    '| --- | ---: | ---: | ---: |',
    `| RSS after warm-up (MiB) | ${mib(first.ours.rss)} | ${mib(first.baseline.rss)} | ${ratio(first.ours.rss, first.baseline.rss)} |`,
    `| RSS at the end (MiB) | ${mib(last.ours.rss)} | ${mib(last.baseline.rss)} | ${ratio(last.ours.rss, last.baseline.rss)} |`,
    `| RSS growth, after warm-up to the end (MB) | ${mb(g.ours * 2 ** 20)} | ${mb(g.baseline * 2 ** 20)} | ${ratio(g.ours, g.baseline)} |`,
    `| RSS growth, after request ${steadyFrom.oursDone} to the end (MB) | ${mb(gs.ours * 2 ** 20)} | ${mb(gs.baseline * 2 ** 20)} | ${ratio(gs.ours, gs.baseline)} |`,
    `| tensors at every checkpoint | ${tensorsSeen.join(', ')} | ${baseTensorsSeen.join(', ')} | |`,
    `| normal requests answered 200 | ${oursAll.length} of ${oursNormal} | ${baseAll.length} of ${tally.baseline.sent} | |`,
    `| normal p50 (ms) | ${ms(percentile(oursAll, 50))} | ${ms(percentile(baseAll, 50))} | ${ratio(percentile(oursAll, 50), percentile(baseAll, 50))} |`,
    `| normal p99 (ms) | ${ms(percentile(oursAll, 99))} | ${ms(percentile(baseAll, 99))} | ${ratio(percentile(oursAll, 99), percentile(baseAll, 99))} |`,
    '',
    `Latency of the normal requests (those answered 200) per window of ${opts.window} of ours' requests (the baseline: the same normal requests):`,
    '',
    '| requests | ours n | ours p50 (ms) | ours p99 (ms) | baseline n | baseline p50 (ms) | baseline p99 (ms) | p50 ratio | p99 ratio |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const w of wins) {
    L.push(`| ${w.from + 1}-${w.to} | ${w.ours.n} | ${ms(w.ours.p50)} | ${ms(w.ours.p99)} | ${w.baseline.n} | ${ms(w.baseline.p50)} | ${ms(w.baseline.p99)} | ${ratio(w.ours.p50, w.baseline.p50)} | ${ratio(w.ours.p99, w.baseline.p99)} |`);
  }
  L.push(
    '',
    'Hostile answers of ours, by kind (generated by the bench; "as expected": the expected status with the expected reason in the JSON error; latency from sending to the whole answer, while 7 other loops keep the server busy):',
    '',
    '| input | route | bytes | count | expected | as expected | statuses | p50 (ms) | max (ms) |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
  );
  for (const h of hostile) {
    const t = tally.hostile[h.id];
    L.push(`| ${h.what} | \`${h.path}\` | ${h.body.length} | ${t.count} | ${h.expect} | ${t.ok} | ${Object.entries(t.statuses).map(([k, v]) => `${k}: ${v}`).join(', ')} | ${ms(percentile(t.latencies, 50))} | ${ms(Math.max(...t.latencies))} |`);
  }
  const unexpected = hostile.filter((h) => tally.hostile[h.id].ok !== tally.hostile[h.id].count);
  L.push(
    '',
    `Checks: ${hostileOk} of ${hostileSent} hostile answers as expected${unexpected.length ? ` (not: ${unexpected.map((h) => `${h.id}: ${tally.hostile[h.id].unexpected.join('; ')}`).join(' | ')})` : ''}; ${(tally.ours.wrongCount ?? 0)} normal answers of ours not 200 with the reference top-1${tally.ours.wrong.length ? ` (${tally.ours.wrong.slice(0, 3).join('; ')})` : ''}; the first normal answer after each hostile one: ${tally.afterHostile.ok} of ${tally.afterHostile.checked} correct${tally.afterHostile.failures.length ? ` (${tally.afterHostile.failures.join('; ')})` : ''}; 5xx or transport failures: ours ${tally.ours.fatal.length}, baseline ${tally.baseline.fatal.length}${r.crashed ? ` (${r.crashed})` : ''}; baseline normal answers not 200 with its reference top-1: ${tally.baseline.wrongCount ?? 0}. Top-1 references: ${Object.keys(r.reference).every((k) => r.reference[k] === r.baselineReference[k]) ? 'the same on both servers' : `differ (${Object.keys(r.reference).filter((k) => r.reference[k] !== r.baselineReference[k]).map((k) => `${k}: ours ${r.reference[k]}, baseline ${r.baselineReference[k]}`).join(', ')})`}.`,
  );
  if (probe) {
    L.push(
      '',
      `**What the hostile inputs do to the baseline** (each once, in this order, to a fresh baseline process after one photograph, RSS ${mib(probe.before.rss)} MiB; at most ${PROBE_TIMEOUT_MS / 1000} s each; not part of the soak). The baseline has one route, so every body is read as image bytes:`,
      '',
      '| input | baseline answer | time (ms) | RSS after (MiB) | tensors after |',
      '| --- | --- | ---: | ---: | ---: |',
    );
    for (const row of probe.rows) {
      L.push(`| ${row.id === 'photo' ? 'a photograph (after the hostile inputs)' : hostile.find((h) => h.id === row.id).id} | ${row.answer.replace(/\|/g, '\\|')} | ${ms(row.ms, 0)} | ${row.rss ? mib(row.rss) : 'no reply'} | ${row.tensors ?? ''} |`);
    }
  }
  L.push('', ...findings(r, { g, gs, steadyFrom, first, last, tensorsSeen, baseTensorsSeen, hostileOk, hostileSent }));
  return `${L.join('\n')}\n`;
}

/** The figures in words: what is flat, what is not. */
function findings(r, f) {
  const out = ['**Findings**', ''];
  const { checkpoints } = r;
  const rssOurs = checkpoints.map((c) => c.ours.rss / 2 ** 20);
  const rssBase = checkpoints.map((c) => c.baseline.rss / 2 ** 20);
  const span = (xs) => Math.max(...xs) - Math.min(...xs);
  out.push(`- Tensors: ${f.tensorsSeen.length === 1 ? `flat: ours held ${f.tensorsSeen[0]} tensors at every checkpoint (the model's weights)` : `**not flat**: ours went ${checkpoints.map((c) => c.ours.numTensors).join(' -> ')}`}; the baseline ${f.baseTensorsSeen.length === 1 ? `${f.baseTensorsSeen[0]} at every checkpoint` : checkpoints.map((c) => c.baseline.numTensors).join(' -> ')}.`);
  out.push(`- RSS: ours ${mib(f.first.ours.rss)} -> ${mib(f.last.ours.rss)} MiB (${mb(f.g.ours * 2 ** 20)} MB from after the warm-up, ${mb(f.gs.ours * 2 ** 20)} MB after request ${f.steadyFrom.oursDone}; the checkpoints span ${span(rssOurs).toFixed(0)} MiB), the baseline ${mib(f.first.baseline.rss)} -> ${mib(f.last.baseline.rss)} MiB (${mb(f.g.baseline * 2 ** 20)} MB, ${mb(f.gs.baseline * 2 ** 20)} MB; span ${span(rssBase).toFixed(0)} MiB). ${rssVerdict(r, f)}`);
  const wasm = checkpoints.map((c) => c.ours.wasmHeap);
  out.push(`- Wasm heap of ours: ${[...new Set(wasm.map((x) => mib(x)))].join(' -> ')} MiB over the soak${new Set(wasm).size === 1 ? ': no hostile input made it grow' : ''}.`);
  const hw = r.windows;
  const p99r = hw.map((w) => w.ours.p99 / w.baseline.p99).filter(Number.isFinite);
  out.push(`- Latency: ours / baseline p50 ${hw.map((w) => (w.ours.p50 / w.baseline.p50).toFixed(2)).join(', ')} and p99 ${p99r.map((x) => x.toFixed(2)).join(', ')} per window of ${r.opts.window}; ours' normal requests share the server with the hostile ones (cheap refusals, but each still parses or sniffs its body), the baseline's do not.`);
  out.push(`- Hostile inputs: ${f.hostileOk} of ${f.hostileSent} answered with the expected status and reason${f.hostileOk === f.hostileSent ? '' : ' (**not all**: see Checks)'}; the first normal answer after each: ${r.tally.afterHostile.ok} of ${r.tally.afterHostile.checked} correct; 5xx: ${r.tally.ours.fatal.length}.`);
  if (r.probe) {
    const row = (id) => r.probe.rows.find((x) => x.id === id);
    const status = (x) => x.answer.split(' ')[0];
    const json = ['images512', 'deep', 'fp32'].map(row);
    const passed = r.probe.rows.filter((x) => x.id !== 'photo' && !/^4\d\d$/.test(status(x)));
    const photo = row('photo');
    out.push(`- The baseline without defences (probe above) has one route and no JSON: the three JSON bodies are no image to sharp (${json.map((x) => `${x.id} ${status(x)}`).join(', ')}), so the cases that matter most on the wasm backend (512 images in one batch, deep or out-of-range tensors) cannot even be sent to it; sharp's own checks refuse the truncated JPEG (${status(row('truncated'))} in ${ms(row('truncated').ms, 0)} ms) and the scan bomb (${status(row('scans'))} in ${ms(row('scans').ms, 0)} ms: "${row('scans').answer.replace(/^\d+ /, '')}", libjpeg finds 2000 copies of the last refinement scan an inconsistent progression). ${passed.length ? `Not refused: ${passed.map((x) => `${x.id} (${x.answer} in ${(x.ms / 1000).toFixed(1)} s, RSS ${mib(r.probe.before.rss)} -> ${x.rss ? mib(x.rss) : '?'} MiB)`).join(', ')}; the wasm heap grows to hold the largest image's tensors and never shrinks, so the baseline stays at ${photo?.rss ? mib(photo.rss) : '?'} MiB after it. ` : ''}None of them crashed or wedged it in this probe${photo ? ` (the photograph after them: ${photo.answer} in ${ms(photo.ms, 0)} ms)` : ''}; hostile inputs are left out of its soak because its answers to them are not comparable (and the one it accepts would put ${passed.length ? 'a gigabyte' : 'memory'} into its RSS), so its figures are those of normal traffic only.`);
  }
  return out;
}

function rssVerdict(r, f) {
  const tol = 10; // MB: allocator and GC noise between checkpoints
  const o = f.gs.ours;
  const b = f.gs.baseline;
  if (Math.abs(o) <= tol) return `After the first ${f.steadyFrom.oursDone} requests ours is flat within ${tol} MB${Math.abs(b) <= tol ? ', as is the baseline' : ''}.`;
  if (o > tol) return `Ours still grows after the first ${f.steadyFrom.oursDone} requests (${mb(o * 2 ** 20)} MB against the baseline's ${mb(b * 2 ** 20)} MB): **not flat**; a longer soak would tell a leak from a slow warm-up of the allocator.`;
  return `Ours shrinks after the first ${f.steadyFrom.oursDone} requests (${mb(o * 2 ** 20)} MB).`;
}

const mib = (bytes) => (Number.isFinite(bytes) ? (bytes / 2 ** 20).toFixed(0) : 'n/a');
const mb = (bytes) => (Number.isFinite(bytes) ? `${bytes >= 0 ? '+' : ''}${(bytes / 1e6).toFixed(1)}` : 'n/a');
const ms = (v, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

function parseArgs(argv) {
  const opts = { requests: 5000, timeLimit: 600, concurrency: 8, every: 500, window: 1000, probe: true, write: true, json: undefined, argv };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--requests') opts.requests = Number(argv[++i]);
    else if (a === '--time-limit') opts.timeLimit = Number(argv[++i]);
    else if (a === '--concurrency') opts.concurrency = Number(argv[++i]);
    else if (a === '--every') opts.every = Number(argv[++i]);
    else if (a === '--window') opts.window = Number(argv[++i]);
    else if (a === '--no-probe') opts.probe = false;
    else if (a === '--no-write') opts.write = false;
    else if (a === '--json') opts.json = argv[++i];
    else {
      console.error(`usage: node bench/soak.mjs [--requests N] [--time-limit S] [--concurrency N] [--every N] [--window N] [--no-probe] [--no-write] [--json FILE]; unknown ${a}`);
      process.exit(2);
    }
  }
  for (const k of ['requests', 'concurrency', 'every', 'window']) {
    if (!Number.isInteger(opts[k]) || opts[k] < 1) {
      console.error(`bench: --${k} must be a positive whole number.`);
      process.exit(2);
    }
  }
  if (!(opts.timeLimit > 0)) {
    console.error('bench: --time-limit must be a positive number of seconds.');
    process.exit(2);
  }
  if (opts.every % HOSTILE_EVERY !== 0) {
    console.error(`bench: --every must be a multiple of ${HOSTILE_EVERY}.`);
    process.exit(2);
  }
  return opts;
}

await main(parseArgs(process.argv.slice(2)));
