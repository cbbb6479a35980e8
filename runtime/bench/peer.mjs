// The peer to beat (issue 15, part 3): the plain alternative a TensorFlow user would run,
// Python TensorFlow + Keras behind Flask (bench/python/peer_app.py: tf.keras.models.load_model,
// model.predict; served by gunicorn), side by side with our local server (runtime/src:
// configFromEnv -> InferenceService -> startLocalServer, as `serverless-tf serve` runs it) on
// the tensorflow backend (tfjs-node, the CPU container's default) and on wasm. The same model
// (the demo MobileNetV2 classifier; the peer gets it as a .keras file) and the same sample
// photographs, over HTTP on loopback.
//
//   1. answers: every photograph once through every server; top-1 labels and probabilities compared.
//   2. warm: POST /classify at concurrency 1, 4 and 16; requests per server and concurrency
//      bounded in count and time, in rounds that interleave the servers (who goes first rotates).
//   3. cold: process start (spawn) to the first correct answer over HTTP, the sides alternating.
//   4. the model alone, no server: tfjs-node, and the peer's Keras (model.predict and a direct
//      call), at batch sizes 1/4/8/16.
//   5. dynamic batching (request coalescing) on the tensorflow backend: max rows 1/4/8/16 x
//      max wait 0/2/5/10 ms at concurrency 1, 4 and 16, interleaved the same way.
//
// Python deps (bench/python/requirements.txt, pinned) are installed by bench/peer-venv.mjs into
// a venv in the machine cache. The Keras file comes from runtime/scripts/reference-models.mjs
// when the peer's (newer) Keras loads its "keras" or "h5" file, else bench/python/layers_to_keras.py
// converts the TF.js layers model (cached beside the venv). Writes the section below into
// BENCHMARKS.md; the results also go to a JSON file (--json, else one in the temp folder).
//
//   node bench/peer.mjs [--quick] [--requests N] [--rounds N] [--time-limit S] [--cold N]
//     [--batch-requests N] [--no-batching] [--no-dev-server] [--peer W:T[,W:T...]] [--keras FILE]
//     [--convert] [--no-write] [--json FILE]
//   node bench/peer.mjs --from-json FILE [--no-write]   the section again from a run's saved results
import { fork, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { cacheRoot } from '../../scripts/python-setup.mjs';
import { BENCH_DIR, bundleServer, loadSamples, loadTask, machineInfo, median, missingPrerequisites, MODEL_DIR, percentile, RUNTIME_DIR, timeBatches, writeSection } from './lib.mjs';
import { REQUIREMENTS, peerPython } from './peer-venv.mjs';

const SECTION = '## Side by side with Python TensorFlow + Flask (issue 15)';
const CONCURRENCY = [1, 4, 16];
const BATCH_ROWS = [4, 8, 16];
const BATCH_WAITS = [0, 2, 5, 10];
const MODEL_NAME = 'mobilenet_v2';
const PYTHON_DIR = join(BENCH_DIR, 'python');
const COLD_TIMEOUT_MS = 120_000;
// Requests per server and concurrency, rounds, seconds per server and concurrency, cold starts per side.
const DEFAULTS = { requests: 140, rounds: 3, timeLimit: 20, cold: 6, batchRequests: 64, batchRounds: 2, batchTimeLimit: 8 };
const QUICK = { requests: 42, rounds: 2, timeLimit: 10, cold: 2, batchRequests: 24, batchRounds: 1, batchTimeLimit: 5 };

const args = process.argv.slice(2);
if (args[0] === '--model-alone') await modelAlone();
else if (args[0] === '--from-json') fromJson(args[1], !args.includes('--no-write'));
else await main(parseArgs(args));

/** Renders (and writes) the section again from a run's saved results. */
function fromJson(path, write) {
  const section = renderSection(JSON.parse(readFileSync(path, 'utf8')));
  console.log(section);
  if (write) console.log(`wrote the "${SECTION.slice(3)}" section of ${writeSection(SECTION, section)}`);
}

// ---- the model alone on tfjs-node ----------------------------------------------------------

/** The layers model on tfjs-node, no server: warm ms per predict + data() at batch sizes 1, 4, 8, 16. */
async function modelAlone() {
  const tf = await import('@tensorflow/tfjs-node');
  const model = await tf.loadLayersModel(tf.io.fileSystem(join(MODEL_DIR, 'model.json')));
  const rows = await timeBatches(tf, model, [1, 4, 8, 16], { warm: 3, minRuns: 5, images: 48 });
  process.send({ type: 'alone', rows });
  process.disconnect();
}

// ---- our server, bundled from runtime/src ----------------------------------------------------

/** The entry that serves the model through the runtime's own config, service and server, on BENCH_PORT (0: any). */
function buildOurServer(outfile) {
  return bundleServer(outfile, 'peer-bench-server.ts', `
        const loaded = Date.now();
        const config = configFromEnv();
        const obs = createObservability(config.modelName);
        // Every model call's rows and ms (the BatchSize and InferenceTime metrics), kept here instead of sent as EMF.
        const calls = [];
        const service = await InferenceService.create(config, { ...obs, inference: (ms, rows) => { calls.push([rows, ms]); } });
        const modelLoaded = Date.now();
        const server = await startLocalServer(service, { port: Number(process.env.BENCH_PORT ?? 0), host: '127.0.0.1' });
        const phases = { loaded, modelLoaded, listening: Date.now() };
        process.stdout.write('PHASES ' + JSON.stringify(phases) + '\\n');
        if (process.send) {
          process.on('message', (msg) => {
            if (msg.type === 'stats') {
              globalThis.gc?.();
              process.send({ type: 'stats', numTensors: tf.memory().numTensors, rss: process.memoryUsage().rss, calls: calls.splice(0) });
            } else if (msg.type === 'exit') {
              void server.close();
              process.disconnect();
            }
          });
          process.send({ type: 'ready', url: server.url, batching: service.info.coalescing, backend: service.info.backend.name });
        }
`);
}

// ---- the Keras model for the peer --------------------------------------------------------------

/** The .keras file the peer loads: --keras, else reference-models.mjs's, else our own conversion. */
function kerasModel(options, python, log) {
  // (python: the peer venv's interpreter)
  if (options.keras) return { path: options.keras, source: `given with --keras (${options.keras})` };
  const script = join(RUNTIME_DIR, 'scripts', 'reference-models.mjs');
  let why = 'runtime/scripts/reference-models.mjs is not there';
  if (!options.convert && existsSync(script)) {
    log('asking runtime/scripts/reference-models.mjs for the Keras model');
    const r = spawnSync(process.execPath, [script], { cwd: RUNTIME_DIR, encoding: 'utf8', timeout: 5 * 60_000, maxBuffer: 64 * 1024 * 1024 });
    try {
      // One JSON object on stdout (pretty-printed or on one line); progress goes to stderr.
      const paths = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
      // Its files are written by its own (older) TensorFlow: use the first one the peer's Keras loads.
      const tried = [];
      for (const key of ['keras', 'h5']) {
        if (r.status !== 0 || !paths[key] || !existsSync(paths[key])) continue;
        const probe = spawnSync(python, ['-c', 'import sys, keras; keras.models.load_model(sys.argv[1], compile=False)', paths[key]], { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
        if (probe.status === 0) return { path: paths[key], source: `\`runtime/scripts/reference-models.mjs\` (its \`${key}\` file, made by TensorFlow ${paths.versions?.tensorflow ?? '?'} from the layers model with tensorflowjs_converter${tried.length ? `; ${tried.join('; ')}` : ''})` };
        tried.push(`its ${key} file does not load in the peer's Keras (${probe.stderr.trim().split('\n').pop()?.slice(0, 160)})`);
      }
      why = `runtime/scripts/reference-models.mjs (TensorFlow ${paths.versions?.tensorflow ?? '?'}, Keras ${paths.versions?.keras ?? '?'}) exited ${r.status}${tried.length ? `, and ${tried.join('; ')}` : ' without keras or h5 paths'}`;
    } catch {
      why = `reference-models.mjs failed (exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout || '').trim().split('\n').slice(-2).join(' ').slice(0, 300)}`;
    }
    log(`${why}; converting the layers model myself`);
  } else if (options.convert) {
    why = '--convert';
  }
  const digest = createHash('sha256');
  const spec = JSON.parse(readFileSync(join(MODEL_DIR, 'model.json'), 'utf8'));
  digest.update(readFileSync(join(MODEL_DIR, 'model.json')));
  for (const g of spec.weightsManifest) for (const p of g.paths) digest.update(readFileSync(join(MODEL_DIR, p)));
  digest.update(readFileSync(join(PYTHON_DIR, 'layers_to_keras.py')));
  digest.update(readFileSync(REQUIREMENTS));
  const dir = join(cacheRoot('SERVERLESS_TF_PEER_VENV_ROOT', 'bench-peer'), 'models');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${MODEL_NAME}-${digest.digest('hex').slice(0, 16)}.keras`);
  if (!existsSync(out)) {
    const r = spawnSync(python, [join(PYTHON_DIR, 'layers_to_keras.py'), MODEL_DIR, out], { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
    if (r.status !== 0) throw new Error(`bench/python/layers_to_keras.py failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join('\n')}`);
  }
  return { path: out, source: `\`bench/python/layers_to_keras.py\` (${why}): the TF.js topology through \`keras.Model.from_config\`, the shard's weights (uint8-quantized, dequantized as TF.js does) set by variable path` };
}

// ---- servers ---------------------------------------------------------------------------------

/** A free port on loopback (closed again: the server about to start takes it). */
async function freePort() {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** Collects a child's output lines; `PHASES {...}` (ours, stdout) and `PEER_PHASES {...}` (peer, stderr) are parsed. */
function watchOutput(child) {
  const seen = { phases: undefined, tail: [] };
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) {
        const m = /^(?:PEER_)?PHASES (\{.*\})\s*$/.exec(line);
        let phase;
        try {
          phase = m && JSON.parse(m[1]);
        } catch {
          // Two gunicorn workers can interleave their lines: only the cold starts (one worker) need these.
        }
        if (phase) seen.phases = { ...seen.phases, ...phase };
        else if (line.trim()) seen.tail = [...seen.tail.slice(-19), line];
      }
    });
  }
  return seen;
}

/** Stops a child we started (its process group: gunicorn's workers too), SIGKILL after 10 s. */
async function stop(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch { /* gone */ }
  }, 10_000);
  await exited;
  clearTimeout(timer);
}

/** Waits for `GET`-less readiness: the first 200 answer to POST /classify with `image`, polling every 5 ms while the port refuses. */
async function firstAnswer(url, image, child, seen, deadlineMs) {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}) before answering: ${seen.tail.slice(-5).join(' | ')}`);
    if (performance.now() > deadlineMs) throw new Error(`no answer within ${COLD_TIMEOUT_MS / 1000} s: ${seen.tail.slice(-5).join(' | ')}`);
    try {
      const res = await fetch(`${url}/classify`, { method: 'POST', body: image.bytes, headers: { 'content-type': image.type, connection: 'close' } });
      const text = await res.text();
      if (res.status === 200) return JSON.parse(text);
      if (res.status !== 503) throw new Error(`answer ${res.status}: ${text.slice(0, 200)}`);
    } catch (err) {
      const code = err.cause?.code ?? err.code;
      if (code !== 'ECONNREFUSED' && code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET') throw err;
    }
    await sleep(5);
  }
}

// ---- load ----------------------------------------------------------------------------------

/**
 * `total` POST /classify requests (the samples in turn, from `offset`) from `concurrency` loops,
 * each sending its next request when its previous answer has arrived; stops at `timeLimitMs`.
 * An answer counts as an error unless it is 200 with the reference top-1 label of its image.
 */
async function drive(url, samples, concurrency, total, timeLimitMs, reference, offset = 0) {
  let next = 0;
  let errors = 0;
  const errorSamples = [];
  const latencies = [];
  const inside = []; // the peer's own split of each request (x-peer-ms: decode, resize, predict)
  const started = performance.now();
  const deadline = started + timeLimitMs;
  const loop = async () => {
    while (next < total && performance.now() < deadline) {
      const image = samples[(offset + next++) % samples.length];
      const t0 = performance.now();
      try {
        const res = await fetch(`${url}/classify`, { method: 'POST', body: image.bytes, headers: { 'content-type': image.type } });
        const text = await res.text();
        const t1 = performance.now();
        const label = res.status === 200 ? JSON.parse(text).predictions?.[0]?.label : undefined;
        if (typeof label !== 'string') throw new Error(`${res.status} ${text.slice(0, 200)}`);
        if (reference && label !== reference[image.name]) throw new Error(`${image.name}: top-1 ${label}, expected ${reference[image.name]}`);
        latencies.push(t1 - t0);
        const split = res.headers.get('x-peer-ms');
        if (split) inside.push(split.split(',').map(Number));
      } catch (err) {
        errors++;
        if (errorSamples.length < 3) errorSamples.push(String(err.message ?? err));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { latencies, inside, errors, errorSamples, wallS: (performance.now() - started) / 1000, timedOut: next < total };
}

/** Warm-up requests before a server's first round: every image twice, and at least 2 per loop. */
function warmups(c, n) {
  return Math.max(2 * c, 2 * n);
}

/**
 * Every server at every concurrency: rounds that interleave the servers (who goes first
 * rotates by round and level); each round a warm-up, then its share of the measured requests.
 */
async function measureLoad(servers, samples, { requests, rounds, timeLimit }, reference, log, tag) {
  const runs = [];
  for (const [level, c] of CONCURRENCY.entries()) {
    const byServer = new Map(servers.map((s) => [s.id, { server: s, concurrency: c, latencies: [], errors: 0, errorSamples: [], wallS: 0, timedOut: false, calls: [], inside: [] }]));
    for (let round = 0; round < rounds; round++) {
      const order = servers.map((_, i) => servers[(i + level + round) % servers.length]);
      for (const server of order) {
        const run = byServer.get(server.id);
        const remainingMs = timeLimit * 1000 - run.wallS * 1000;
        if (remainingMs <= 0) continue;
        await drive(server.url, samples, c, round === 0 ? warmups(c, samples.length) : c, 60_000, reference, round);
        if (server.stats) await server.stats(); // drops the warm-up's model calls
        const share = Math.floor(requests / rounds) + (round < requests % rounds ? 1 : 0);
        const result = await drive(server.url, samples, c, share, remainingMs, reference, round);
        if (server.stats) run.calls.push(...(await server.stats()).calls);
        run.latencies.push(...result.latencies);
        run.inside.push(...result.inside);
        run.errors += result.errors;
        run.errorSamples.push(...result.errorSamples.slice(0, 3 - run.errorSamples.length));
        run.wallS += result.wallS;
        run.timedOut ||= result.timedOut;
      }
    }
    for (const run of byServer.values()) {
      const rowsByCall = {};
      for (const [rows] of run.calls) rowsByCall[rows] = (rowsByCall[rows] ?? 0) + 1;
      Object.assign(run, {
        completed: run.latencies.length,
        rps: run.latencies.length / run.wallS,
        p50: percentile(run.latencies, 50),
        p99: percentile(run.latencies, 99),
        rowsByCall,
        callMs: median(run.calls.map(([, ms]) => ms)),
        peerSplit: run.inside.length ? [0, 1, 2].map((k) => median(run.inside.map((x) => x[k]))) : undefined,
      });
      delete run.inside;
      delete run.latencies;
      delete run.calls;
      runs.push(run);
      log(`${tag} ${run.server.id.padEnd(14)} c=${String(c).padStart(2)}: ${run.completed} ok, ${run.errors} errors${run.errorSamples.length ? ` (${run.errorSamples[0]})` : ''}, ${run.rps.toFixed(1)} rps, p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms${run.peerSplit ? `; inside (medians) decode ${run.peerSplit[0].toFixed(1)}, resize ${run.peerSplit[1].toFixed(1)}, predict ${run.peerSplit[2].toFixed(1)} ms` : ''}${Object.keys(rowsByCall).length ? `; model calls by rows ${formatSizes(rowsByCall)}, median call ${run.callMs.toFixed(1)} ms` : ''}`);
    }
  }
  return runs;
}

// ---- the driver ----------------------------------------------------------------------------

async function main(options) {
  const started = performance.now();
  const log = (msg) => console.log(`[peer ${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s] ${msg}`);
  const missing = missingPrerequisites().filter((m) => !m.includes('handler.mjs'));
  const native = spawnSync(process.execPath, ['-e', "require('@tensorflow/tfjs-node')"], { cwd: RUNTIME_DIR, encoding: 'utf8' });
  if (native.status !== 0) missing.push(`@tensorflow/tfjs-node does not load from runtime/node_modules: run \`node runtime/scripts/native-backend.mjs\` (${native.stderr.trim().split('\n').pop()})`);
  if (missing.length) {
    for (const m of missing) console.error(`bench: ${m}`);
    process.exit(1);
  }
  const peer = peerPython(log);
  const keras = kerasModel(options, peer.python, log);
  log(`peer: ${peer.python}; Keras model ${keras.path}`);

  const dir = mkdtempSync(join(tmpdir(), 'serverless-tf-peer-'));
  symlinkSync(join(RUNTIME_DIR, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const children = new Set();
  process.once('SIGINT', () => process.exit(130));
  process.on('exit', () => {
    for (const c of children) {
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch { /* gone */ }
    }
    try {
      unlinkSync(join(dir, 'node_modules'));
      rmSync(dir, { recursive: true, force: true });
    } catch { /* best effort */ }
  });
  const ours = await buildOurServer(join(dir, 'server.mjs'));
  const machine = machineInfo();
  const samples = loadSamples();
  const task = loadTask();
  const versions = collectVersions(peer);
  log(`${machine.cpu}, ${machine.cores} cores, node ${machine.node}; ${samples.length} images; ${versions.peer}`);

  const ourEnv = (backend, extra = {}) => {
    const env = {
      ...process.env,
      SERVERLESS_TF_MODEL_URI: MODEL_DIR,
      SERVERLESS_TF_TASK: JSON.stringify(task),
      SERVERLESS_TF_BACKEND: backend,
      SERVERLESS_TF_MODEL_NAME: MODEL_NAME,
      // As `serverless-tf serve`: no CloudWatch locally; warnings and errors still logged.
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      ...extra,
    };
    for (const name of ['SERVERLESS_TF_COALESCE_MAX_ROWS', 'SERVERLESS_TF_COALESCE_MAX_WAIT_MS', 'SERVERLESS_TF_BATCH_MAX_SIZE', 'SERVERLESS_TF_BATCH_MAX_WAIT_MS']) {
      if (!(name in extra)) delete env[name];
    }
    return env;
  };
  // No __pycache__ beside peer_app.py in the repository (the venv's own .pyc files were written at install).
  const peerEnv = { ...process.env, PEER_MODEL: keras.path, PEER_TASK: JSON.stringify(task), PEER_PHASES: '1', PYTHONDONTWRITEBYTECODE: '1' };
  const gunicorn = join(peer.venv, 'bin', 'gunicorn');
  const peerArgs = ({ workers, threads }, port) => ['--chdir', PYTHON_DIR, '-w', String(workers), '-k', 'gthread', '--threads', String(threads), '-b', `127.0.0.1:${port}`, '--keep-alive', '30', '--graceful-timeout', '2', 'peer_app:app'];

  /** Side specs: how to start each server on a port; `fork` ones also answer stats over IPC. */
  const sides = [
    ...options.peers.map((p, i) => ({
      id: i === 0 ? 'peer' : `peer-${p.workers}x${p.threads}`,
      label: `Python TF + Flask, gunicorn ${p.workers} worker${p.workers > 1 ? 's' : ''} x ${p.threads} thread${p.threads > 1 ? 's' : ''} (gthread)`,
      kind: 'peer', signal: 'SIGINT', warmOnly: i > 0,
      start: (port) => spawn(gunicorn, peerArgs(p, port), { env: peerEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }),
    })),
    ...(options.devServer ? [{
      id: 'peer-dev', label: 'Python TF + Flask, Flask development server (threaded)', kind: 'peer', signal: 'SIGINT', warmOnly: true,
      start: (port) => spawn(peer.python, [join(PYTHON_DIR, 'peer_app.py'), '--port', String(port)], { cwd: PYTHON_DIR, env: peerEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }),
    }] : []),
    {
      id: 'ours-tf', label: 'ours, tensorflow backend (tfjs-node), batching auto', kind: 'ours', signal: 'SIGTERM',
      start: (port, ipc) => spawnOurs(ours, ourEnv('tensorflow', { BENCH_PORT: String(port) }), ipc),
    },
    {
      id: 'ours-wasm', label: 'ours, wasm backend, batching auto', kind: 'ours', signal: 'SIGTERM',
      start: (port, ipc) => spawnOurs(ours, ourEnv('wasm', { BENCH_PORT: String(port) }), ipc),
    },
  ];

  // ---- 1. warm servers up, and their answers compared
  const servers = [];
  for (const side of sides) servers.push(await startServer(side, children, samples[0], log));
  const answers = await compareAnswers(servers, samples);
  const reference = Object.fromEntries(samples.map((s) => [s.name, answers.byServer['ours-tf'][s.name].label]));
  for (const a of answers.rows) log(`answers ${a.name}: ${a.labels}; max |p(peer) - p(ours-tf)| ${a.peerDiff.toExponential(1)}, max |p(ours-wasm) - p(ours-tf)| ${a.wasmDiff.toExponential(1)}`);

  // ---- 2. warm load
  const loadBefore = loadavg()[0];
  const warm = await measureLoad(servers, samples, options, reference, log, 'warm');
  for (const s of servers) await stopServer(s, children);

  // ---- 3. cold starts
  const cold = await measureCold(sides.filter((s) => !s.warmOnly), samples, reference, options.cold, children, log);

  // ---- 4. the model alone, no server: tfjs-node, and the peer's Keras (predict and a direct call)
  const aloneChild = fork(fileURLToPath(import.meta.url), ['--model-alone'], { cwd: RUNTIME_DIR, execArgv: [], env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const alone = (await once(aloneChild, 'message'))[0].rows;
  log(`model alone on tfjs-node: ${alone.map((r) => `batch ${r.batch} ${r.ms.toFixed(1)} ms (${r.perImage.toFixed(1)} per image)`).join(', ')}`);
  const keras1 = spawnSync(peer.python, [join(PYTHON_DIR, 'model_alone.py'), keras.path], { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
  const kerasAlone = keras1.status === 0 ? JSON.parse(keras1.stdout.trim().split('\n').pop()) : undefined;
  log(`model alone in the peer's Keras: ${kerasAlone ? ['predict', 'call'].map((k) => `${k} ${Object.entries(kerasAlone[k]).map(([n, v]) => `batch ${n} ${v.toFixed(1)} ms`).join(', ')}`).join('; ') : `failed: ${keras1.stderr.trim().split('\n').pop()}`}`);

  // ---- 5. batching on the tensorflow backend
  let batching;
  if (options.batching) {
    const configs = [{ rows: 1, wait: 0 }, ...BATCH_ROWS.flatMap((rows) => BATCH_WAITS.map((wait) => ({ rows, wait })))];
    const batchServers = [];
    for (const { rows, wait } of configs) {
      const side = {
        id: rows === 1 ? 'off' : `${rows}/${wait}`, rows, wait, kind: 'ours', signal: 'SIGTERM',
        start: (port, ipc) => spawnOurs(ours, ourEnv('tensorflow', { BENCH_PORT: String(port), SERVERLESS_TF_COALESCE_MAX_ROWS: String(rows), SERVERLESS_TF_COALESCE_MAX_WAIT_MS: String(wait) }), ipc),
      };
      batchServers.push(await startServer(side, children, samples[0], log));
    }
    const runs = await measureLoad(batchServers, samples, { requests: options.batchRequests, rounds: options.batchRounds, timeLimit: options.batchTimeLimit }, reference, log, 'batch');
    for (const s of batchServers) await stopServer(s, children);
    batching = { configs, runs };
  }

  machine.load = `${loadBefore.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end`;
  machine.busy = loadBefore > machine.cores / 2 || loadavg()[0] > machine.cores / 2;
  const totalS = (performance.now() - started) / 1000;
  log(`done in ${totalS.toFixed(0)} s`);
  // Everything the section is made of, saved first: `--from-json FILE` renders it again.
  const pick = ({ id, label, kind, warmOnly }) => ({ id, label, kind, warmOnly });
  const state = {
    machine, versions, keras, options, sides: sides.map(pick), servers: servers.map(pick), answers,
    warm: warm.map((r) => ({ ...r, server: pick(r.server) })), cold, alone, kerasAlone,
    batching: batching && { ...batching, runs: batching.runs.map((r) => ({ ...r, server: { id: r.server.id } })) },
    totalS, samples: samples.map(({ name }) => ({ name })),
  };
  const jsonPath = options.json ?? join(tmpdir(), `serverless-tf-peer-${Date.now()}.json`);
  writeFileSync(jsonPath, JSON.stringify(state, null, 2));
  log(`results in ${jsonPath}`);
  const section = renderSection(state);
  console.log(`\n${section}`);
  if (options.write) log(`wrote the "${SECTION.slice(3)}" section of ${writeSection(SECTION, section)}`);
  const failed = [...warm, ...(batching?.runs ?? [])].filter((r) => r.errors > 0).length + cold.filter((c) => c.error).length;
  if (failed) {
    console.error(`bench: ${failed} run(s) had errors or wrong answers`);
    process.exitCode = 1;
  }
  process.exit();
}

function spawnOurs(script, env, ipc) {
  return ipc
    ? fork(script, [], { cwd: RUNTIME_DIR, env, execArgv: ['--expose-gc'], detached: true, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
    : spawn(process.execPath, [script], { cwd: RUNTIME_DIR, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Starts a side for the warm phase, waits for its first answer; ours answer stats over IPC. */
async function startServer(side, children, image, log) {
  const port = await freePort();
  const child = side.start(port, side.kind === 'ours');
  children.add(child);
  const seen = watchOutput(child);
  const url = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  await firstAnswer(url, image, child, seen, t0 + COLD_TIMEOUT_MS);
  const server = { ...side, child, url, seen };
  if (side.kind === 'ours') {
    const replies = [];
    const waiting = [];
    child.on('message', (m) => {
      if (m.type !== 'stats') return;
      if (waiting.length) waiting.shift()(m);
      else replies.push(m);
    });
    server.stats = () => new Promise((resolve) => {
      child.send({ type: 'stats' });
      waiting.push(resolve);
    });
  }
  log(`${side.id} up on ${url} (first answer after ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return server;
}

async function stopServer(server, children) {
  await stop(server.child, server.signal);
  children.delete(server.child);
}

/** Every photograph once through every server, one at a time: top-1 and probabilities. */
async function compareAnswers(servers, samples) {
  const byServer = {};
  for (const s of servers) {
    byServer[s.id] = {};
    for (const image of samples) {
      const res = await fetch(`${s.url}/classify`, { method: 'POST', body: image.bytes, headers: { 'content-type': image.type } });
      const body = await res.json();
      if (res.status !== 200) throw new Error(`${s.id}: ${image.name} answered ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
      const scores = Object.fromEntries(body.predictions.map((p) => [p.label, p.score]));
      byServer[s.id][image.name] = { label: body.predictions[0].label, scores };
    }
  }
  const diff = (a, b) => Math.max(...Object.keys(a.scores).map((k) => Math.abs(a.scores[k] - (b.scores[k] ?? 0))));
  const rows = samples.map((image) => {
    const tf = byServer['ours-tf'][image.name];
    const labels = servers.map((s) => `${s.id} ${byServer[s.id][image.name].label}`).join(', ');
    return {
      name: image.name, labels, top1: tf.label,
      agree: servers.every((s) => byServer[s.id][image.name].label === tf.label),
      peerDiff: diff(byServer.peer[image.name], tf),
      wasmDiff: diff(byServer['ours-wasm'][image.name], tf),
    };
  });
  return { byServer, rows };
}

/**
 * Cold starts: one untimed start per side (the page cache), then `n` timed ones per side,
 * who goes first rotating; each from spawn() to the first 200 answer with the image's
 * reference top-1 (the image rotates through the samples, the same for every side in a round).
 */
async function measureCold(sides, samples, reference, n, children, log) {
  const out = [];
  for (let round = -1; round < n; round++) {
    const order = sides.map((_, i) => sides[(i + Math.max(0, round)) % sides.length]);
    const image = samples[Math.max(0, round) % samples.length];
    for (const side of order) {
      const port = await freePort();
      const spawnedAt = Date.now();
      const t0 = performance.now();
      const child = side.start(port, false);
      children.add(child);
      const seen = watchOutput(child);
      let result;
      try {
        const answer = await firstAnswer(`http://127.0.0.1:${port}`, image, child, seen, t0 + COLD_TIMEOUT_MS);
        const ms = performance.now() - t0;
        const label = answer.predictions?.[0]?.label;
        result = { side: side.id, round, image: image.name, ms, label, error: label === reference[image.name] ? undefined : `top-1 ${label}, expected ${reference[image.name]}` };
        await sleep(50); // lets the PHASES line arrive
        if (seen.phases) result.phases = Object.fromEntries(Object.entries(seen.phases).map(([k, v]) => [k, v - spawnedAt]));
      } catch (err) {
        result = { side: side.id, round, image: image.name, error: String(err.message ?? err) };
      }
      await stop(child, side.signal);
      children.delete(child);
      if (round >= 0) out.push(result);
      log(`cold ${round < 0 ? '(untimed)' : `#${round + 1}`} ${side.id.padEnd(9)} ${image.name}: ${result.error ?? `${result.ms.toFixed(0)} ms, ${result.label}`}${result.phases ? ` ${JSON.stringify(Object.fromEntries(Object.entries(result.phases).map(([k, v]) => [k, Math.round(v)])))}` : ''}`);
    }
  }
  return out;
}

// ---- versions ---------------------------------------------------------------------------------

function collectVersions(peer) {
  const norm = (n) => n.toLowerCase().replace(/[-_.]+/g, '-');
  const pick = (name) => peer.freeze.find((l) => norm(l.split('==')[0]) === norm(name))?.split('==')[1] ?? '?';
  const pyVersion = spawnSync(peer.python, ['-c', 'import sys; print(sys.version.split()[0])'], { encoding: 'utf8' }).stdout.trim();
  const pkg = (name) => {
    try {
      return JSON.parse(readFileSync(join(RUNTIME_DIR, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      return '?';
    }
  };
  let libtensorflow = '?';
  try {
    libtensorflow = JSON.parse(readFileSync(join(RUNTIME_DIR, 'node_modules', '@tensorflow', 'tfjs-node', '.serverless-tf-native.json'), 'utf8')).tensorflow ?? '?';
  } catch { /* not recorded */ }
  const py = { tensorflow: pick('tensorflow-cpu'), keras: pick('keras'), numpy: pick('numpy'), flask: pick('flask'), gunicorn: pick('gunicorn'), pillow: pick('pillow'), werkzeug: pick('werkzeug') };
  return {
    python: pyVersion, py,
    node: { tfjs: pkg('@tensorflow/tfjs'), 'tfjs-node': pkg('@tensorflow/tfjs-node'), 'tfjs-backend-wasm': pkg('@tensorflow/tfjs-backend-wasm'), sharp: pkg('sharp'), libtensorflow },
    peer: `Python ${pyVersion}, tensorflow-cpu ${py.tensorflow}, keras ${py.keras}, Flask ${py.flask}, gunicorn ${py.gunicorn}`,
  };
}

// ---- the report ----------------------------------------------------------------------------

function renderSection({ machine, versions, keras, options, sides, servers, answers, warm, cold, alone, kerasAlone, batching, totalS, samples }) {
  const f1 = (v) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
  const f0 = (v) => (Number.isFinite(v) ? v.toFixed(0) : 'n/a');
  const r2 = (a, b) => (Number.isFinite(a / b) ? (a / b).toFixed(2) : 'n/a');
  const find = (id, c) => warm.find((r) => r.server.id === id && r.concurrency === c);
  const coldOf = (id) => cold.filter((c) => c.side === id && !c.error);
  const coldMedian = (id) => median(coldOf(id).map((c) => c.ms));
  const L = [SECTION, ''];
  // The options that change what is measured (not where the results go).
  const shown = options.extraArgs.filter((a, i, all) => a !== '--no-write' && a !== '--json' && all[i - 1] !== '--json');
  L.push(`Measured ${machine.date} on ${machine.cpu} (${machine.arch}), ${machine.cores} cores, ${machine.ramGiB} GiB RAM, Node ${machine.node}; 1-minute load average ${machine.load}; bench run took ${f0(totalS)} s.`);
  if (machine.busy) L.push('', '**Note:** other work was running on this machine during the bench (see the load average). Every phase interleaves the servers (who goes first rotates), so it adds noise rather than bias, but rerun on a quiet machine for stable absolute numbers.');
  L.push('', `**Versions.** Peer: ${versions.peer}, numpy ${versions.py.numpy}, Pillow ${versions.py.pillow}, Werkzeug ${versions.py.werkzeug} (pinned in \`runtime/bench/python/requirements.txt\`; installed by the bench into a venv in the machine cache, \`~/.cache/cdk-serverless-tensorflow/bench-peer/\`). Ours: @tensorflow/tfjs ${versions.node.tfjs}, @tensorflow/tfjs-node ${versions.node['tfjs-node']} built against libtensorflow ${versions.node.libtensorflow} (the tensorflow-cpu wheel's C API, \`runtime/scripts/native-backend.mjs\`), @tensorflow/tfjs-backend-wasm ${versions.node['tfjs-backend-wasm']}, sharp ${versions.node.sharp}.`);
  L.push('', `**Reproduce** from the repository root with \`npm --prefix runtime run bench:peer\` (\`node bench/peer.mjs\` in \`runtime/\`; needs \`runtime/node_modules\` with the native backend, \`node runtime/scripts/native-backend.mjs\`, and the demo model, \`npm --prefix runtime run demo-model\`). Options: \`--quick\` (a smoke run of a few minutes: ${QUICK.requests} requests, ${QUICK.cold} cold starts, ${QUICK.batchRequests} batching requests per configuration and concurrency), \`--requests N\` (default ${DEFAULTS.requests} per server and concurrency), \`--rounds N\` (${DEFAULTS.rounds}), \`--time-limit S\` (${DEFAULTS.timeLimit}, per server and concurrency), \`--cold N\` (${DEFAULTS.cold} per side), \`--batch-requests N\` (${DEFAULTS.batchRequests} per configuration and concurrency, at most ${DEFAULTS.batchTimeLimit} s), \`--no-batching\`, \`--no-dev-server\`, \`--peer W:T[,W:T]\` (gunicorn workers:threads; default 1:4,2:2; the first is "the peer", the others are measured warm only), \`--keras FILE\`, \`--convert\`, \`--no-write\`, \`--json FILE\`. This run: ${options.quick ? '`--quick`' : 'default options'}${shown.length ? ` plus \`${shown.join(' ')}\`` : ''}.`);
  L.push('', `**The peer** (\`runtime/bench/python/peer_app.py\`): \`tf.keras.models.load_model\` of the demo MobileNetV2 as a \`.keras\` file, and per request Pillow decode to RGB, \`tf.compat.v1.image.resize_bilinear(align_corners=True)\` to 224x224 (the preprocessing the model's task.json asks of ours), \`/ 255\`, \`model.predict(x, verbose=0)\`, top 5 as JSON in our /classify's shape; no warm-up at start (a plain app has none: its first request pays the first predict). The Keras file: ${keras.source}. Served by **gunicorn ${options.peers[0].workers} worker x ${options.peers[0].threads} threads (gthread)**, \`--keep-alive 30\` (gunicorn's 2 s default closed keep-alive connections under the clients at concurrency 16, as a load balancer in front would not): chosen beforehand because one process holds one model and TensorFlow's intra-op pool already spreads one predict over both cores, so more workers each bring a model copy and a pool of their own that compete for the same 2 cores, while threads let one request's decode and HTTP overlap another's predict (TensorFlow and Pillow release the GIL).${options.peers.length > 1 ? ` Also measured (warm only): ${options.peers.slice(1).map((p) => `${p.workers} workers x ${p.threads} threads`).join(', ')}; the targets below compare with the best gunicorn configuration at each concurrency.` : ''}${options.devServer ? ' The Flask development server (`app.run(threaded=True)`) is measured warm only, for reference.' : ''}`);
  L.push('', '**Ours**: the local server bundled from `runtime/src` (configFromEnv -> InferenceService -> startLocalServer, what `serverless-tf serve` runs) with `SERVERLESS_TF_BACKEND=tensorflow` or `wasm`, the TF.js layers model `runtime/models/mobilenet_v2`, its task.json, Powertools logs at WARN, metrics off; batching `auto` (the default: on the tensorflow backend 16 rows / 5 ms at the time of this run, off on wasm). `POST /classify` with the raw image bytes, the same request to every server.');
  L.push('', `**Load**: the ${samples.length} photographs of \`runtime/samples\` in turn, from 1, 4 and 16 concurrent loops in the bench process (Node's fetch, keep-alive), each sending its next request when its answer has arrived; ${options.requests} measured requests per server and concurrency (at most ${options.timeLimit} s), in ${options.rounds} rounds that interleave the servers, each round after a warm-up (the first: every image twice and at least 2 per loop; later ones one per loop). All servers are up for the whole warm phase, idle but for the one under load. An answer counts only if it is 200 with the image's reference top-1 (ours on tensorflow, below). **Cold**: ${options.cold} starts per side after one untimed start each (the page cache), who goes first rotating, the image rotating: wall time from \`spawn()\` to the first 200 answer with the right top-1 over HTTP (ours listens once the model is loaded and warmed, so the client retries a refused connection every 5 ms; gunicorn binds its port at once and holds the request until its worker has loaded the app). Ratios are ours / peer: rps above 1 and latencies below 1 are better for ours.`);

  const peerId = 'peer';
  const inside = (r) => (r.peerSplit
    ? `decode ${f1(r.peerSplit[0])}, resize ${f1(r.peerSplit[1])}, \`model.predict\` ${f1(r.peerSplit[2])}`
    : Number.isFinite(r.callMs) ? `model call ${f1(r.callMs)}; calls by rows ${formatSizes(r.rowsByCall)}` : '');
  L.push('', '### Warm: throughput and latency over HTTP', '');
  L.push('| concurrency | server | requests | errors | rps | rps ours/peer | p50 (ms) | p50 ours/peer | p99 (ms) | p99 ours/peer | inside the server (medians, ms) |');
  L.push('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const c of CONCURRENCY) {
    const base = find(peerId, c);
    for (const s of servers) {
      const r = find(s.id, c);
      const isOurs = s.kind === 'ours';
      L.push(`| ${c} | ${s.label} | ${r.completed}${r.timedOut ? ' (time limit)' : ''} | ${r.errors} | ${f1(r.rps)} | ${isOurs ? `**${r2(r.rps, base.rps)}**` : ''} | ${f1(r.p50)} | ${isOurs ? r2(r.p50, base.p50) : ''} | ${f1(r.p99)} | ${isOurs ? r2(r.p99, base.p99) : ''} | ${inside(r)} |`);
    }
  }

  L.push('', '### Cold start: process start to the first correct answer', '');
  L.push('| side | starts | median (ms) | p90 (ms) | min (ms) | max (ms) | median ours/peer | phases (medians, ms from spawn) |');
  L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  const peerCold = coldMedian(peerId);
  const phaseText = (id) => {
    const rows = coldOf(id).filter((c) => c.phases);
    if (!rows.length) return '';
    const keys = Object.keys(rows[0].phases);
    const names = { loaded: 'bundle loaded', modelLoaded: 'model loaded + warmed', listening: 'listening', start: 'app module start', tfImported: '`import tensorflow` done', modelLoadedPeer: 'model loaded', firstPredictDone: 'first predict done' };
    return keys.map((k) => `${names[k] ?? k} ${f0(median(rows.map((r) => r.phases[k])))}`).join(', ') + `, answer ${f0(median(rows.map((r) => r.ms)))}`;
  };
  for (const side of sides.filter((s) => !s.warmOnly)) {
    const ok = coldOf(side.id).map((c) => c.ms);
    const errs = cold.filter((c) => c.side === side.id && c.error);
    L.push(`| ${side.label} | ${ok.length}${errs.length ? ` (+${errs.length} failed)` : ''} | ${f0(median(ok))} | ${f0(percentile(ok, 90))} | ${f0(Math.min(...ok))} | ${f0(Math.max(...ok))} | ${side.kind === 'ours' ? `**${r2(median(ok), peerCold)}**` : ''} | ${phaseText(side.id)} |`);
  }

  // Targets
  // The best gunicorn configuration at each concurrency (the dev server is not for production).
  const bestPeer = (c) => servers.filter((s) => s.kind === 'peer' && s.id !== 'peer-dev').map((s) => find(s.id, c)).sort((x, y) => y.rps - x.rps)[0];
  const tfRatios = CONCURRENCY.map((c) => find('ours-tf', c).rps / bestPeer(c).rps);
  const coldRatio = coldMedian('ours-tf') / peerCold;
  L.push('', '### Targets', '');
  L.push('| target | measured | met? |');
  L.push('| --- | --- | --- |');
  for (const [i, c] of CONCURRENCY.entries()) L.push(`| ours on tensorflow >= 1.0x the peer's throughput at concurrency ${c} | ${tfRatios[i].toFixed(2)}x (${f1(find('ours-tf', c).rps)} vs ${f1(bestPeer(c).rps)} rps, ${bestPeer(c).server.id === peerId ? 'the peer' : bestPeer(c).server.label}) | ${tfRatios[i] >= 1 ? 'yes' : '**no**'} |`);
  L.push(`| ours on tensorflow <= 0.5x the peer's cold start | ${coldRatio.toFixed(2)}x (${f0(coldMedian('ours-tf'))} vs ${f0(peerCold)} ms, medians) | ${coldRatio <= 0.5 ? 'yes' : '**no**'} |`);

  // Where the time goes, from the same runs.
  const p1 = find(peerId, 1);
  const t1 = find('ours-tf', 1);
  const reading = [];
  if (p1.peerSplit) reading.push(`At concurrency 1 the peer's median request takes ${f1(p1.p50)} ms over HTTP, of which (its own medians) Pillow decode ${f1(p1.peerSplit[0])} ms, the TF resize ${f1(p1.peerSplit[1])} ms and \`model.predict\` ${f1(p1.peerSplit[2])} ms; ours on tensorflow takes ${f1(t1.p50)} ms, of which the model call ${f1(t1.callMs)} ms (decode with sharp, preprocessing and top-k outside it).`);
  if (kerasAlone) {
    const loop = kerasAlone.predict[1] - kerasAlone.call[1];
    reading.push(`Without a server (the model alone, below), one image through the peer's \`model.predict\` costs ${f1(kerasAlone.predict[1])} ms and through a direct \`model(x)\` call ${f1(kerasAlone.call[1])} ms, against ${f1(alone[0].ms)} ms for tfjs-node (\`predict\` + \`data()\`): ${loop > 0.2 * kerasAlone.call[1] ? `Keras' predict loop adds ${f1(loop)} ms to every request of the peer; a Python server that calls the model directly would close part of the gap` : "the direct (eager) call is no faster than the predict loop, so the peer's gap is TensorFlow 2.21 + Keras 3 per call against libtensorflow 2.12 through tfjs-node, not a slow API choice"}.`);
  }
  const t16 = find('ours-tf', 16);
  reading.push(`Under load (concurrency 16) ours on tensorflow batches concurrent requests (model calls by rows: ${formatSizes(t16.rowsByCall)}), while the peer runs one \`model.predict\` per request in each of its threads.`);
  L.push('', '### Where the time goes', '', ...reading.map((x) => `- ${x}`));

  L.push('', '### Answers', '');
  L.push(`Every photograph once through every server before the load: ${answers.rows.every((a) => a.agree) ? 'every server gave every photograph the same top-1 label' : `top-1 labels differ for ${answers.rows.filter((a) => !a.agree).map((a) => `${a.name} (${a.labels})`).join('; ')}`}. Largest difference of a class probability, peer vs ours on tensorflow: ${Math.max(...answers.rows.map((a) => a.peerDiff)).toExponential(1)} (per image: ${answers.rows.map((a) => `${a.name} ${a.peerDiff.toExponential(1)}`).join(', ')}); ours on wasm vs ours on tensorflow: ${Math.max(...answers.rows.map((a) => a.wasmDiff)).toExponential(1)}. (Decoders differ: Pillow on the peer, sharp/libvips in ours; the resize and the model are the same.)${answers.rows.some((a) => a.name === 'rocket.jpg' && a.peerDiff > 1e-3) ? " rocket.jpg is the outlier because it carries an Adobe RGB (1998) ICC profile: sharp converts its pixels to sRGB, Pillow's \`convert('RGB')\` returns the Adobe RGB values unchanged (checked apart from the bench: after an ImageCms conversion to sRGB Pillow's pixels match sharp's within 0.002 of 255 on average, against 5.7 without)." : ''}`);

  L.push('', '### The model alone (no server, no decode: random input, median of warm calls, ms per call)', '');
  L.push('| batch | tfjs-node (ours on tensorflow): `predict` + `data()` | peer: Keras `model.predict(x)` | peer: Keras `model(x, training=False)` |');
  L.push('| ---: | ---: | ---: | ---: |');
  for (const r of alone) L.push(`| ${r.batch} | ${f1(r.ms)} | ${kerasAlone ? f1(kerasAlone.predict[r.batch]) : 'n/a'} | ${kerasAlone ? f1(kerasAlone.call[r.batch]) : 'n/a'} |`);
  L.push('', `Each in a process of its own, one after the other, while no server runs (\`bench/peer.mjs --model-alone\`, \`bench/python/model_alone.py\`). \`model.predict\` is what the peer calls per request (the usual Flask recipe): Keras' predict loop around a compiled \`tf.function\`. The direct call skips that loop (which Keras' documentation suggests for small inputs) but runs the layers eagerly, op by op${kerasAlone && kerasAlone.call[1] > kerasAlone.predict[1] ? ', and was the slower of the two here: the peer already uses the faster call' : ''}. A \`tf.function\`-wrapped direct call (not measured) is what a tuned Python server would try next.`);
  if (batching) L.push('', ...renderBatching(batching, f1, r2));
  return `${L.join('\n')}\n`;
}

function renderBatching({ configs, runs }, f1, r2) {
  const find = (id, c) => runs.find((r) => r.server.id === id && r.concurrency === c);
  const L = ['### Dynamic batching on the tensorflow backend', ''];
  L.push(`Our server on tensorflow with \`SERVERLESS_TF_COALESCE_MAX_ROWS\` x \`SERVERLESS_TF_COALESCE_MAX_WAIT_MS\` (rows 1 is off), ${configs.length} servers up at once, the same load as above (${runs[0] ? `${Math.max(...runs.filter((r) => r.concurrency === 1).map((r) => r.completed + r.errors))}` : '?'} requests per configuration and concurrency, interleaved rounds). rps and p50/p99 in ms; "x off" is the rps against batching off at that concurrency; "calls" is how many model calls had how many rows.`, '');
  L.push('| rows / wait (ms) | c=1 rps | c=1 p50 | c=1 p99 | c=4 rps | x off | c=4 p50 | c=4 p99 | c=16 rps | x off | c=16 p50 | c=16 p99 | calls at c=16 (rows: count) |');
  L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const { rows, wait } of configs) {
    const id = rows === 1 ? 'off' : `${rows}/${wait}`;
    const [a, b, c] = CONCURRENCY.map((k) => find(id, k));
    const [, offB, offC] = CONCURRENCY.map((k) => find('off', k));
    L.push(`| ${rows === 1 ? '1 (off)' : `${rows} / ${wait}`} | ${f1(a.rps)} | ${f1(a.p50)} | ${f1(a.p99)} | ${f1(b.rps)} | ${r2(b.rps, offB.rps)} | ${f1(b.p50)} | ${f1(b.p99)} | ${f1(c.rps)} | ${r2(c.rps, offC.rps)} | ${f1(c.p50)} | ${f1(c.p99)} | ${formatSizes(c.rowsByCall)} |`);
  }
  const rec = recommendBatching(runs, configs);
  const off = (k) => find('off', k);
  L.push('', `**What the numbers suggest for \`auto\` on tensorflow** (computed by the bench: the configuration with the best geometric mean of its rps against off at concurrency 4 and 16; among those within 5% of it, the shortest wait, then the fewest rows): **${rec.best.rows} rows / ${rec.best.wait} ms** (${r2(find(rec.best.id, 4).rps, off(4).rps)}x off at c=4, ${r2(find(rec.best.id, 16).rps, off(16).rps)}x at c=16; at c=1 its p50 is ${f1(find(rec.best.id, 1).p50)} ms against ${f1(off(1).p50)} ms off: a lone request waits up to the whole wait). Current default 16 / 5: ${r2(find('16/5', 4).rps, off(4).rps)}x at c=4, ${r2(find('16/5', 16).rps, off(16).rps)}x at c=16. Scores (geometric mean, x off): ${rec.scores.map((x) => `${x.id} ${x.score.toFixed(2)}`).join(', ')}.`);
  return L;
}

/** The batching configuration the numbers favour: best geometric mean of rps/off at c=4 and c=16; ties (within 5%) to the shorter wait, then fewer rows. */
function recommendBatching(runs, configs) {
  const rps = (id, c) => runs.find((r) => r.server.id === id && r.concurrency === c).rps;
  const scores = configs.filter((c) => c.rows > 1).map(({ rows, wait }) => {
    const id = `${rows}/${wait}`;
    return { id, rows, wait, score: Math.sqrt((rps(id, 4) / rps('off', 4)) * (rps(id, 16) / rps('off', 16))) };
  });
  const top = Math.max(...scores.map((x) => x.score));
  const near = scores.filter((x) => x.score >= 0.95 * top).sort((x, y) => x.wait - y.wait || x.rows - y.rows);
  return { best: near[0], scores: [...scores].sort((x, y) => y.score - x.score) };
}

function formatSizes(sizes) {
  const entries = Object.entries(sizes).map(([k, v]) => [Number(k), v]).sort((a, b) => a[0] - b[0]);
  return entries.length ? entries.map(([k, v]) => `${k}: ${v}`).join(', ') : '-';
}

// ---- options ----------------------------------------------------------------------------------


function parseArgs(argv) {
  const quick = argv.includes('--quick');
  const o = { ...(quick ? QUICK : DEFAULTS), quick, batching: true, devServer: true, peers: [{ workers: 1, threads: 4 }, { workers: 2, threads: 2 }], write: true, json: undefined, keras: undefined, convert: false, extraArgs: argv.filter((a) => a !== '--quick') };
  const num = (a, v) => {
    const n = Number(v);
    if (!(n > 0)) usage(`${a} needs a positive number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') continue;
    else if (a === '--requests') o.requests = num(a, argv[++i]);
    else if (a === '--rounds') o.rounds = num(a, argv[++i]);
    else if (a === '--time-limit') o.timeLimit = num(a, argv[++i]);
    else if (a === '--cold') o.cold = num(a, argv[++i]);
    else if (a === '--batch-requests') o.batchRequests = num(a, argv[++i]);
    else if (a === '--no-batching') o.batching = false;
    else if (a === '--no-dev-server') o.devServer = false;
    else if (a === '--peer') {
      o.peers = String(argv[++i]).split(',').map((p) => {
        const [workers, threads] = p.split(':').map(Number);
        if (!(workers >= 1 && threads >= 1)) usage(`--peer takes W:T pairs, not ${p}`);
        return { workers, threads };
      });
    } else if (a === '--keras') o.keras = argv[++i];
    else if (a === '--convert') o.convert = true;
    else if (a === '--no-write') o.write = false;
    else if (a === '--json') o.json = argv[++i];
    else usage(`unknown option ${a}`);
  }
  if (!Number.isInteger(o.rounds) || o.rounds > o.requests) usage('--rounds must be a whole number from 1 to --requests');
  return o;
}

function usage(msg) {
  console.error(`bench: ${msg}\nusage: node bench/peer.mjs [--quick] [--requests N] [--rounds N] [--time-limit S] [--cold N] [--batch-requests N] [--no-batching] [--no-dev-server] [--peer W:T[,W:T]] [--keras FILE] [--convert] [--no-write] [--json FILE]`);
  process.exit(2);
}
