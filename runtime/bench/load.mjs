// The load benchmark (issue 7): the local server (runtime/src: configFromEnv ->
// InferenceService -> startLocalServer, as `serverless-tf serve` runs it) against a minimal
// hand-written node:http server doing the same decode/resize/predict as bench/baseline.mjs,
// under the same load: POST /classify with the sample photographs at concurrency 1, 4 and
// 16, from this process, over loopback. Ours runs with dynamic batching as the defaults
// choose on wasm (off), and forced on with SERVERLESS_TF_COALESCE_MAX_ROWS (request coalescing, TF Serving's dynamic batching).
//
// Every server is a child process on 127.0.0.1; all start first and stay up, idle except
// the one under load. For each concurrency level, each server gets its requests in rounds
// that interleave the servers (who goes first rotates), so other work on a shared machine
// spreads over all of them. Each round: warm-up requests, tensors and RSS (after a forced
// GC), the measured requests (bounded in count and time), tensors and RSS again.
//
// Writes the "## Load (issue 7)" section of BENCHMARKS.md at the repository root.
//
//   node bench/load.mjs [--requests 300] [--rounds 3] [--time-limit 60] [--no-write] [--json FILE]
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { bundleServer, loadSamples, loadTask, machineInfo, missingPrerequisites, MODEL_DIR, percentile, RUNTIME_DIR, timeBatches, writeSection } from './lib.mjs';

const SECTION = '## Load (issue 7)';
const CONCURRENCY = [1, 4, 16];
const MODEL_NAME = 'mobilenet_v2';

const args = process.argv.slice(2);
if (args[0] === '--baseline-server') {
  await baselineServer();
} else if (args[0] === '--model-scaling') {
  await modelScaling();
} else {
  await main(parseArgs(args));
}

// ---- the minimal hand-written server -----------------------------------------------------

/** node:http + baseline.mjs's classify: read the body, classify, answer JSON. Nothing else. */
async function baselineServer() {
  const { createBaseline } = await import('./baseline.mjs');
  const tf = await import('@tensorflow/tfjs');
  const baseline = await createBaseline();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      try {
        const { top } = await baseline.classify(Buffer.concat(chunks));
        const body = JSON.stringify({ predictions: top });
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      } catch (err) {
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: String(err.message) }));
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  serveStats(() => tf.memory().numTensors, () => ({}), () => server.close());
  process.send({ type: 'ready', url: `http://127.0.0.1:${server.address().port}` });
}

/** The model alone, loaded as baseline.mjs loads it: warm ms per call and per image at batch sizes 1, 4 and 16. */
async function modelScaling() {
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  await tf.ready();
  const modelJson = JSON.parse(readFileSync(join(MODEL_DIR, 'model.json'), 'utf8'));
  const weightSpecs = modelJson.weightsManifest.flatMap((g) => g.weights);
  const shards = Buffer.concat(modelJson.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(MODEL_DIR, p)))));
  const weightData = shards.buffer.slice(shards.byteOffset, shards.byteOffset + shards.byteLength);
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs, weightData }));
  const out = await timeBatches(tf, model, [1, 4, 16], { warm: 1, minRuns: 3, images: 12 });
  process.send({ type: 'scaling', rows: out });
  process.disconnect();
}

/** Answers the parent's `stats` and `exit` messages. */
function serveStats(numTensors, extra, close) {
  process.on('message', (msg) => {
    if (msg.type === 'stats') {
      globalThis.gc?.();
      process.send({ type: 'stats', numTensors: numTensors(), rss: process.memoryUsage().rss, ...extra() });
    } else if (msg.type === 'exit') {
      close();
      process.disconnect();
    }
  });
}

// ---- our server, bundled from runtime/src --------------------------------------------------

/** Bundles the entry that serves the model through the runtime's own config, service and server. */
function buildOurServer(outfile) {
  return bundleServer(outfile, 'load-server.ts', `
        const config = configFromEnv();
        const obs = createObservability(config.modelName);
        // Every model call's rows (the BatchSize metric), counted here instead of sent as EMF.
        const batchSizes = {};
        const service = await InferenceService.create(config, { ...obs, inference: (ms, rows) => { batchSizes[rows] = (batchSizes[rows] ?? 0) + 1; } });
        const server = await startLocalServer(service, { port: 0, host: '127.0.0.1' });
        process.on('message', (msg) => {
          if (msg.type === 'stats') {
            globalThis.gc?.();
            process.send({ type: 'stats', numTensors: tf.memory().numTensors, rss: process.memoryUsage().rss, batchSizes: { ...batchSizes } });
            for (const k of Object.keys(batchSizes)) delete batchSizes[k];
          } else if (msg.type === 'exit') {
            void server.close();
            process.disconnect();
          }
        });
        process.send({ type: 'ready', url: server.url, batching: service.info.coalescing, backend: service.info.backend.name });
`);
}

// ---- the driver ----------------------------------------------------------------------------

async function main(options) {
  const started = performance.now();
  const log = (msg) => console.log(`[load ${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s] ${msg}`);
  const missing = missingPrerequisites().filter((m) => !m.includes('handler.mjs'));
  if (missing.length) {
    for (const m of missing) console.error(`bench: ${m}`);
    process.exit(1);
  }
  const dir = mkdtempSync(join(tmpdir(), 'serverless-tf-load-'));
  symlinkSync(join(RUNTIME_DIR, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const children = [];
  const cleanup = () => {
    for (const c of children) if (c.connected) c.kill();
    try {
      unlinkSync(join(dir, 'node_modules'));
      rmSync(dir, { recursive: true, force: true });
    } catch { /* best effort */ }
  };
  process.once('SIGINT', () => process.exit(130));
  process.on('exit', cleanup);

  const ours = await buildOurServer(join(dir, 'server.mjs'));
  const machine = machineInfo();
  const samples = loadSamples();
  log(`${machine.cpu}, ${machine.cores} cores, node ${machine.node}; ${samples.length} images; ${options.requests} requests per run, at most ${options.timeLimit} s`);

  const baseEnv = {
    ...process.env,
    SERVERLESS_TF_MODEL_URI: MODEL_DIR,
    SERVERLESS_TF_TASK: JSON.stringify(loadTask()),
    SERVERLESS_TF_BACKEND: 'wasm',
    SERVERLESS_TF_MODEL_NAME: MODEL_NAME,
    // As `serverless-tf serve`: no CloudWatch locally; warnings and errors still logged.
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };
  for (const name of ['SERVERLESS_TF_COALESCE_MAX_ROWS', 'SERVERLESS_TF_COALESCE_MAX_WAIT_MS', 'SERVERLESS_TF_BATCH_MAX_SIZE', 'SERVERLESS_TF_BATCH_MAX_WAIT_MS']) delete baseEnv[name];
  const specs = [
    { id: 'baseline', label: 'baseline (node:http + tfjs, hand-written)', script: fileURLToPath(import.meta.url), args: ['--baseline-server'], env: baseEnv },
    { id: 'ours', label: 'ours, batching auto (off on wasm)', script: ours, args: [], env: baseEnv },
    { id: 'ours-16-5', label: 'ours, batching forced on: 16 rows / 5 ms', script: ours, args: [], env: { ...baseEnv, SERVERLESS_TF_COALESCE_MAX_ROWS: '16', SERVERLESS_TF_COALESCE_MAX_WAIT_MS: '5' } },
    { id: 'ours-16-0', label: 'ours, batching forced on: 16 rows / 0 ms', script: ours, args: [], env: { ...baseEnv, SERVERLESS_TF_COALESCE_MAX_ROWS: '16', SERVERLESS_TF_COALESCE_MAX_WAIT_MS: '0' } },
  ];
  // The model alone first, on a quiet machine, in a process of its own.
  const scalingChild = fork(fileURLToPath(import.meta.url), ['--model-scaling'], { cwd: RUNTIME_DIR, execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.push(scalingChild);
  const scaling = (await once(scalingChild, 'message'))[0].rows;
  log(`model alone: ${scaling.map((r) => `batch ${r.batch} ${r.ms.toFixed(1)} ms (${r.perImage.toFixed(1)} per image)`).join(', ')}`);
  const servers = [];
  for (const spec of specs) {
    const child = fork(spec.script, spec.args, { cwd: RUNTIME_DIR, env: spec.env, execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    children.push(child);
    const [ready] = await once(child, 'message');
    const request = async (msg) => {
      child.send(msg);
      const [reply] = await once(child, 'message');
      return reply;
    };
    servers.push({ ...spec, child, url: ready.url, batching: ready.batching, request });
    log(`${spec.id} listening on ${ready.url}${ready.batching ? ` (batching: ${ready.batching.maxRows > 1 ? `${ready.batching.maxRows} rows / ${ready.batching.maxWaitMs} ms` : 'off'}, ${ready.batching.reason})` : ''}`);
  }

  const loadBefore = loadavg()[0];
  const runs = [];
  const top1 = {}; // server id -> image -> top-1 labels seen
  for (const [level, c] of CONCURRENCY.entries()) {
    const byServer = new Map(servers.map((server) => [server.id, {
      server, concurrency: c, latencies: [], errors: 0, errorSamples: [], wallS: 0, timedOut: false, batchSizes: {}, tensorsChanged: false,
    }]));
    for (let round = 0; round < options.rounds; round++) {
      // Rounds interleave the servers, and who goes first rotates, so other work on the
      // machine (and any drift) spreads over all of them instead of landing on one.
      const order = servers.map((_, i) => servers[(i + level + round) % servers.length]);
      for (const server of order) {
        const run = byServer.get(server.id);
        const remainingMs = options.timeLimit * 1000 - run.wallS * 1000;
        await drive(server.url, samples, c, round === 0 ? warmups(c, samples) : c, remainingMs);
        await server.request({ type: 'stats' }); // clears the warm-up's batch sizes
        const before = await server.request({ type: 'stats' });
        const share = Math.floor(options.requests / options.rounds) + (round < options.requests % options.rounds ? 1 : 0);
        const result = await drive(server.url, samples, c, share, remainingMs, (name, label) => {
          ((top1[server.id] ??= {})[name] ??= new Set()).add(label);
        });
        const after = await server.request({ type: 'stats' });
        run.before ??= before;
        run.after = after;
        run.latencies.push(...result.latencies);
        run.errors += result.errors;
        run.errorSamples.push(...result.errorSamples.slice(0, 3 - run.errorSamples.length));
        run.wallS += result.wallS;
        run.timedOut ||= result.timedOut;
        run.tensorsChanged ||= after.numTensors !== before.numTensors;
        for (const [rows, n] of Object.entries(after.batchSizes ?? {})) run.batchSizes[rows] = (run.batchSizes[rows] ?? 0) + n;
      }
    }
    for (const run of byServer.values()) {
      Object.assign(run, { completed: run.latencies.length, rps: run.latencies.length / run.wallS, p50: percentile(run.latencies, 50), p99: percentile(run.latencies, 99) });
      delete run.latencies;
      runs.push(run);
      const { before, after } = run;
      log(`${run.server.id.padEnd(10)} c=${String(c).padStart(2)}: ${run.completed} requests, ${run.errors} errors, ${run.rps.toFixed(1)} rps, p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms; tensors ${before.numTensors} -> ${after.numTensors}; RSS ${mib(before.rss)} -> ${mib(after.rss)} MiB${run.server.batching ? `; model calls by rows ${formatSizes(run.batchSizes)}` : ''}`);
    }
  }
  machine.load = `${loadBefore.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end`;
  machine.busy = loadBefore > machine.cores / 2;
  machine.busyLater = !machine.busy && loadavg()[0] > machine.cores / 2;
  for (const s of servers) s.child.send({ type: 'exit' });

  const agreement = samples.map((s) => {
    const labels = new Set(servers.flatMap((srv) => [...(top1[srv.id]?.[s.name] ?? [])]));
    return { name: s.name, labels: [...labels] };
  });
  const totalS = (performance.now() - started) / 1000;
  log(`done in ${totalS.toFixed(0)} s`);
  const section = renderSection({ machine, servers, runs, agreement, options, totalS, scaling });
  console.log(`\n${section}`);
  if (options.json) writeFileSync(options.json, JSON.stringify({ machine, scaling, runs: runs.map(({ server, ...r }) => ({ server: server.id, ...r, latencies: undefined })), agreement }, null, 2));
  if (options.write) {
    log(`wrote the "${SECTION.slice(3)}" section of ${writeSection(SECTION, section)}`);
  }
  const failed = runs.filter((r) => r.errors > 0 || r.tensorsChanged);
  if (failed.length) {
    console.error(`bench: ${failed.length} run(s) had errors or changed the tensor count`);
    process.exitCode = 1;
  }
}

/** Warm-up requests before a run: every image twice, and at least 2 per loop. */
function warmups(concurrency, samples) {
  return Math.max(2 * concurrency, 2 * samples.length);
}

/**
 * `total` POST /classify requests (the samples in turn) from `concurrency` loops, each
 * sending its next request when its previous answer has arrived; stops early at `timeLimitMs`.
 */
async function drive(url, samples, concurrency, total, timeLimitMs, onTop1 = () => {}) {
  let next = 0;
  let errors = 0;
  const errorSamples = [];
  const latencies = [];
  const started = performance.now();
  const deadline = started + timeLimitMs;
  const loop = async () => {
    while (next < total && performance.now() < deadline) {
      const image = samples[next++ % samples.length];
      const t0 = performance.now();
      try {
        const res = await fetch(`${url}/classify`, { method: 'POST', body: image.bytes, headers: { 'content-type': image.type } });
        const text = await res.text();
        latencies.push(performance.now() - t0);
        const label = res.status === 200 ? JSON.parse(text).predictions?.[0]?.label : undefined;
        if (typeof label !== 'string') throw new Error(`${res.status} ${text.slice(0, 200)}`);
        onTop1(image.name, label);
      } catch (err) {
        errors++;
        if (errorSamples.length < 3) errorSamples.push(String(err.message ?? err));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const wallS = (performance.now() - started) / 1000;
  return { latencies, errors, errorSamples, wallS, timedOut: next < total };
}

// ---- the report ----------------------------------------------------------------------------

function renderSection({ machine, servers, runs, agreement, options, totalS, scaling }) {
  const find = (id, c) => runs.find((r) => r.server.id === id && r.concurrency === c);
  const ratio = (a, b) => (Number.isFinite(a / b) ? (a / b).toFixed(2) : 'n/a');
  const lines = [
    SECTION,
    '',
    `Measured ${machine.date} on ${machine.cpu} (${machine.arch}), ${machine.cores} cores, ${machine.ramGiB} GiB RAM, Node ${machine.node}; TensorFlow.js wasm backend on every server; 1-minute load average ${machine.load}; bench run took ${totalS.toFixed(0)} s.`,
    '',
  ];
  if (machine.busy) lines.push('**Note:** other work was running on this machine when the bench started; rerun on a quiet machine for stable numbers.', '');
  if (machine.busyLater) lines.push('**Note:** other work started on this machine during the bench (see the load average); the interleaved rounds spread it over all servers, but expect a few percent of noise between equal servers (compare the two configurations that never batch).', '');
  lines.push(
    `Reproduce in \`runtime/\` with \`node bench/load.mjs\` (bundles the server from \`runtime/src\` with esbuild; needs the demo model: \`npm run demo-model\`). Options: \`--requests N\` (default 300 per server and concurrency) \`--rounds N\` (default 3) \`--time-limit S\` (default 60, per server and concurrency) \`--no-write --json FILE\`.`,
    '',
    `Load: \`POST /classify\` with the ${agreement.length} photographs of \`runtime/samples\` in turn (raw bytes, their image Content-Type), from ${CONCURRENCY.join(', ')} concurrent loops in the bench process (Node's fetch, keep-alive), each sending its next request when its answer has arrived; ${options.requests} measured requests per server and concurrency (at most ${options.timeLimit} s), in ${options.rounds} rounds that interleave the servers (who goes first rotates), after ${CONCURRENCY.map((c) => warmups(c, { length: agreement.length })).join(', ')} warm-up requests (every image twice, at least 2 per loop) and before each later round one per loop. All servers stay up for the whole bench, idle but for the one under load. Tensors (\`tf.memory().numTensors\`) and RSS are read in each server process before and after the measured requests, RSS after a forced GC (\`--expose-gc\`). Ratios are ours / baseline: above 1 is more requests per second, and slower latencies.`,
    '',
    '| concurrency | server | requests | errors | rps | rps ratio | p50 (ms) | p50 ratio | p99 (ms) | p99 ratio | tensors before -> after | RSS MiB before -> after | model calls by rows |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  for (const c of CONCURRENCY) {
    const base = find('baseline', c);
    for (const s of servers) {
      const r = find(s.id, c);
      const isBase = s.id === 'baseline';
      lines.push(`| ${c} | ${s.label} | ${r.completed}${r.timedOut ? ' (time limit)' : ''} | ${r.errors} | ${r.rps.toFixed(1)} | ${isBase ? '1.00' : ratio(r.rps, base.rps)} | ${r.p50.toFixed(1)} | ${isBase ? '1.00' : ratio(r.p50, base.p50)} | ${r.p99.toFixed(1)} | ${isBase ? '1.00' : ratio(r.p99, base.p99)} | ${r.before.numTensors} -> ${r.after.numTensors} | ${mib(r.before.rss)} -> ${mib(r.after.rss)} | ${s.batching ? formatSizes(r.batchSizes) : ''} |`);
    }
  }
  const errors = runs.reduce((n, r) => n + r.errors, 0);
  const leaks = runs.filter((r) => r.tensorsChanged || r.after.numTensors !== r.before.numTensors);
  const rssGrowth = Math.max(...runs.map((r) => (r.after.rss - r.before.rss) / 2 ** 20));
  const rssOverall = servers.map((s) => {
    const mine = runs.filter((r) => r.server.id === s.id);
    return `${s.id} ${mib(mine[0].before.rss)} -> ${mib(mine[mine.length - 1].after.rss)} MiB`;
  });
  const disagree = agreement.filter((a) => a.labels.length !== 1);
  lines.push(
    '',
    `Errors: ${errors}${errors ? ` (${runs.filter((r) => r.errors).map((r) => `${r.server.id} c=${r.concurrency}: ${r.errorSamples.join('; ')}`).join(' | ')})` : ''}. Tensors: ${leaks.length === 0 ? 'unchanged by every run' : `changed in ${leaks.map((r) => `${r.server.id} c=${r.concurrency}`).join(', ')}`}. RSS: largest growth in one run ${rssGrowth.toFixed(1)} MiB; from before the first run to after the last: ${rssOverall.join(', ')}. Top-1 labels: ${disagree.length === 0 ? 'every server gave every image the same top-1 label in every run' : `differ for ${disagree.map((a) => `${a.name} (${a.labels.join(', ')})`).join(', ')}`}.`,
    '',
    ...batchingFindings(find, scaling),
  );
  return `${lines.join('\n')}\n`;
}

/** What the data says about batching on this backend, in words. */
function batchingFindings(find, scaling) {
  const out = ['### Does dynamic batching help on wasm?', ''];
  for (const id of ['ours-16-5', 'ours-16-0']) {
    const parts = CONCURRENCY.map((c) => {
      const on = find(id, c);
      const off = find('ours', c);
      return `c=${c}: ${(on.rps / off.rps).toFixed(2)}x the requests per second, p50 ${(on.p50 / off.p50).toFixed(2)}x, p99 ${(on.p99 / off.p99).toFixed(2)}x`;
    });
    out.push(`- ${id === 'ours-16-5' ? '16 rows / 5 ms' : '16 rows / 0 ms'} against batching off: ${parts.join('; ')}.`);
  }
  const calls = (id) => CONCURRENCY.map((c) => `c=${c}: ${formatSizes(find(id, c).batchSizes)}`).join('; ');
  out.push(
    `- Batches formed (model calls by rows) with 5 ms: ${calls('ours-16-5')}. With 0 ms: ${calls('ours-16-0')}: on wasm a model call is synchronous and blocks the event loop, so no request can join a queue while a batch runs; with 0 ms the server is batching off plus a queue, and its figures above show this machine's noise between two equal servers.`,
    `- Memory: the wasm heap grows to hold the activations of the largest batch and never shrinks: RSS after the last run ${mib(find('ours-16-5', 16).after.rss)} MiB with batches of up to 16 against ${mib(find('ours', 16).after.rss)} MiB with batching off.`,
  );
  out.push(
    `- The model alone (loaded as \`bench/baseline.mjs\` loads it, in a process of its own before the servers start; random input; median of warm \`predict\` + \`data()\` calls): ${scaling.map((r) => `batch ${r.batch}: ${r.ms.toFixed(1)} ms (${r.perImage.toFixed(1)} ms per image)`).join(', ')}. The best batch saves ${(100 * (1 - Math.min(...scaling.map((r) => r.perImage)) / scaling[0].perImage)).toFixed(0)}% of the model time per image: the wasm backend runs one thread (SIMD, no threads in Node), so a batch costs about the sum of its images, and every request in it waits for all of them.`,
    '- Defaults (`SERVERLESS_TF_COALESCE_MAX_ROWS=auto`): off on wasm and cpu, 16 rows / 5 ms on tensorflow and tensorflow-gpu, where one call spreads over many cores or a GPU. Set `SERVERLESS_TF_COALESCE_MAX_ROWS` (and `SERVERLESS_TF_COALESCE_MAX_WAIT_MS`) to force it either way (the old names `SERVERLESS_TF_BATCH_MAX_SIZE` / `_BATCH_MAX_WAIT_MS` still work, with a warning).',
  );
  return out;
}

function formatSizes(sizes) {
  const entries = Object.entries(sizes).map(([k, v]) => [Number(k), v]).sort((a, b) => a[0] - b[0]);
  return entries.length ? entries.map(([k, v]) => `${k}: ${v}`).join(', ') : '-';
}

function mib(bytes) {
  return (bytes / 2 ** 20).toFixed(0);
}

function parseArgs(argv) {
  const options = { requests: 300, rounds: 3, timeLimit: 60, write: true, json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--requests') options.requests = Number(argv[++i]);
    else if (a === '--time-limit') options.timeLimit = Number(argv[++i]);
    else if (a === '--rounds') options.rounds = Number(argv[++i]);
    else if (a === '--no-write') options.write = false;
    else if (a === '--json') options.json = argv[++i];
    else {
      console.error(`usage: node bench/load.mjs [--requests N] [--rounds N] [--time-limit S] [--no-write] [--json FILE]; unknown ${a}`);
      process.exit(2);
    }
  }
  if (!(options.requests > 0) || !(options.timeLimit > 0) || !Number.isInteger(options.rounds) || options.rounds < 1 || options.rounds > options.requests) {
    console.error('bench: --requests and --time-limit must be positive numbers, --rounds a whole number from 1 to --requests.');
    process.exit(2);
  }
  return options;
}
