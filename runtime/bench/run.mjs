// The runtime benchmark (issue 2): our bundled Lambda handler against the least work
// possible (bench/baseline.mjs), on the same model, backend (wasm) and images.
//
//   1. Warm: handler time per request. Two long-lived child processes, one per side, each
//      with one backend init; the parent sends the same image to both, alternating which
//      goes first, so only one side computes at a time (2 cores, no contention).
//   2. Cold: process start to first answer. A fresh `node` per run, spawned alternately.
//
// Writes the "## Runtime (issue 2)" section of BENCHMARKS.md at the repository root.
//
//   node bench/run.mjs [--rounds 40] [--warmup 5] [--cold 20] [--no-write] [--json FILE]
import { fork, spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import {
  BENCH_DIR, HANDLER_PATH, RUNTIME_DIR, handlerEnv, loadSamples, machineInfo, median, missingPrerequisites, ms, summary, writeSection,
} from './lib.mjs';

const SECTION = '## Runtime (issue 2)';
const TARGET_WARM = 1.10;
const TARGET_COLD = 1.25;

const options = parseArgs(process.argv.slice(2));
const benchStarted = performance.now();
const log = (msg) => console.log(`[bench ${((performance.now() - benchStarted) / 1000).toFixed(1).padStart(5)}s] ${msg}`);

const missing = missingPrerequisites();
if (missing.length) {
  for (const m of missing) console.error(`bench: ${m}`);
  process.exit(1);
}

// Every run measures one build: a private copy of dist/handler.mjs and its chunks (beside a
// link to the runtime's node_modules, so tfjs and sharp resolve as from dist/). A rebuild
// of dist/ while the bench runs (rm + esbuild) then cannot pull files from under a child.
const snapshot = mkdtempSync(join(tmpdir(), 'serverless-tf-bench-'));
copyFileSync(HANDLER_PATH, join(snapshot, 'handler.mjs'));
cpSync(join(dirname(HANDLER_PATH), 'chunks'), join(snapshot, 'chunks'), { recursive: true });
symlinkSync(join(RUNTIME_DIR, 'node_modules'), join(snapshot, 'node_modules'), 'dir');
process.once('SIGINT', () => process.exit(130));
process.on('exit', () => {
  try {
    unlinkSync(join(snapshot, 'node_modules'));
    rmSync(snapshot, { recursive: true, force: true });
  } catch { /* best effort */ }
});
// The runtime's own request pieces (event -> request, image decode, preprocessing), bundled
// from runtime/src for the warm breakdown (ours.mjs), so it times the current code rather
// than a copy of it. Undefined if the bundle fails; the breakdown is then skipped.
const probePath = await buildProbe(join(snapshot, 'probe.mjs'));
const childEnv = () => ({ ...handlerEnv(), BENCH_HANDLER_PATH: join(snapshot, 'handler.mjs'), BENCH_PROBE_PATH: probePath ?? '' });

const samples = loadSamples();
for (const s of samples) {
  const meta = await sharp(s.bytes).metadata();
  s.size = `${meta.width}x${meta.height}${meta.channels === 1 ? ' grey' : ''}`;
}
const machine = machineInfo();
log(`${machine.cpu}, ${machine.cores} cores, ${machine.ramGiB} GiB, node ${machine.node}; ${samples.length} images: ${samples.map((s) => s.name).join(', ')}`);

const loadBefore = loadavg()[0];
const warm = await measureWarm();
const cold = await measureCold();
machine.load = `${loadBefore.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end`;
// The bench itself keeps about one core busy; more than that before it started is other work.
machine.busy = loadBefore > machine.cores / 2;
const bundle = await bundleComposition();
const totalS = (performance.now() - benchStarted) / 1000;
log(`done in ${totalS.toFixed(0)} s`);

const section = renderSection({ machine, warm, cold, bundle, totalS });
console.log(`\n${section}`);
if (options.write) {
  log(`wrote ${writeSection(SECTION, section)}`);
}
if (options.json) {
  writeFileSync(options.json, JSON.stringify({ machine, warm, cold, bundle, totalS }, null, 2));
  log(`wrote ${options.json}`);
}

// ---------------------------------------------------------------------------------------

function parseArgs(argv) {
  const o = { rounds: 40, warmup: 5, cold: 20, write: true, json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${a} needs a positive whole number`);
      return n;
    };
    if (a === '--rounds') o.rounds = num();
    else if (a === '--warmup') o.warmup = num();
    else if (a === '--cold') o.cold = num();
    else if (a === '--no-write') o.write = false;
    else if (a === '--json') o.json = argv[++i];
    else throw new Error(`unknown option ${a}; use --rounds N --warmup N --cold N --no-write --json FILE`);
  }
  return o;
}

/** A long-lived IPC worker: `request(msg)` resolves with its next reply. */
function startWorker(name, script) {
  const child = fork(join(BENCH_DIR, script), ['--serve'], {
    cwd: RUNTIME_DIR,
    env: childEnv(),
    execArgv: [],
    // stdout carries the handler's Powertools logs and metrics: read and dropped (as
    // Lambda's runtime would ship them), never left to fill the pipe.
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const stdout = { bytes: 0 };
  child.stdout.on('data', (chunk) => { stdout.bytes += chunk.length; });
  let pending;
  const failed = new Promise((_, reject) => {
    child.on('exit', (code, signal) => reject(new Error(`${name} worker exited (${signal ?? code})`)));
  });
  failed.catch(() => {});
  child.on('message', (msg) => {
    const p = pending;
    pending = undefined;
    if (!p) return;
    if (msg.type === 'error') p.reject(new Error(`${name}: ${msg.message}`));
    else p.resolve(msg);
  });
  const next = () => Promise.race([new Promise((resolve, reject) => { pending = { resolve, reject }; }), failed]);
  const ready = next();
  return {
    name,
    ready,
    stdout,
    request: (msg) => {
      const reply = next();
      child.send(msg);
      return reply;
    },
    stop: () => new Promise((resolve) => {
      child.removeAllListeners('exit');
      child.once('exit', resolve);
      if (child.connected) child.send({ type: 'exit' });
      setTimeout(() => child.kill(), 5000).unref();
    }),
  };
}

async function measureWarm() {
  log('warm: starting the baseline and ours workers (one process each, one backend init each)');
  const base = startWorker('baseline', 'baseline.mjs');
  const ours = startWorker('ours', 'ours.mjs');
  const [baseReady, oursReady] = await Promise.all([base.ready, ours.ready]);
  log(`warm: ready (baseline init ${ms(baseReady.initMs, 0)} ms, ours init ${ms(oursReady.initMs, 0)} ms; started together)`);

  const results = { baseline: [], ours: [] };
  const perImage = samples.map(() => ({ baseline: [], ours: [], inference: [], decode: [] }));
  const disagreements = new Set();
  const total = options.warmup + options.rounds;
  for (let round = 0; round < total; round++) {
    const measured = round >= options.warmup;
    for (let i = 0; i < samples.length; i++) {
      // Alternate who goes first, by round and by image, so neither side always follows the other.
      const order = (round + i) % 2 === 0 ? [base, ours] : [ours, base];
      const replies = {};
      for (const w of order) replies[w.name] = await w.request({ type: 'run', index: i });
      if (replies.baseline.top1 !== replies.ours.top1) disagreements.add(`${samples[i].name}: baseline ${replies.baseline.top1}, ours ${replies.ours.top1}`);
      if (!measured) continue;
      results.baseline.push(replies.baseline.ms);
      results.ours.push(replies.ours.ms);
      perImage[i].baseline.push(replies.baseline.ms);
      perImage[i].ours.push(replies.ours.ms);
      perImage[i].decode.push(replies.baseline.decodeMs);
      if (typeof replies.ours.inferenceMs === 'number') perImage[i].inference.push(replies.ours.inferenceMs);
    }
    if (!measured) log(`warm: warm-up round ${round + 1}/${options.warmup}`);
    else if ((round - options.warmup + 1) % 5 === 0 || round === total - 1) {
      log(`warm: measured round ${round - options.warmup + 1}/${options.rounds}: so far median baseline ${ms(median(results.baseline))} ms, ours ${ms(median(results.ours))} ms`);
    }
  }
  // Which files of the split bundle the warm worker loaded over all its requests (before the breakdown).
  const loadedFiles = (await ours.request({ type: 'loaded' })).files.filter((f) => f !== 'probe.mjs');
  let breakdown;
  if (probePath) {
    log('warm: breakdown of our extra work (the runtime\'s own functions, same warm process)');
    try {
      breakdown = (await ours.request({ type: 'breakdown', reps: 25 })).result;
    } catch (err) {
      log(`warm: breakdown skipped: ${err.message}`);
    }
  }
  const stdoutBytes = ours.stdout.bytes;
  await Promise.all([base.stop(), ours.stop()]);
  const requests = results.ours.length;
  const images = samples.map((s, i) => ({
    name: s.name,
    size: s.size,
    kib: Math.round(s.bytes.length / 1024),
    baseline: median(perImage[i].baseline),
    ours: median(perImage[i].ours),
    baselineDecode: median(perImage[i].decode),
    oursInference: median(perImage[i].inference),
    oursOutside: median(perImage[i].ours.map((t, j) => t - (perImage[i].inference[j] ?? NaN))),
  }));
  return {
    rounds: options.rounds,
    warmup: options.warmup,
    baseline: summary(results.baseline),
    ours: summary(results.ours),
    inference: summary(perImage.flatMap((p) => p.inference)),
    outside: summary(perImage.flatMap((p) => p.ours.map((t, j) => t - (p.inference[j] ?? NaN)))),
    baselineDecode: summary(perImage.flatMap((p) => p.decode)),
    images,
    breakdown,
    loadedFiles,
    disagreements: [...disagreements],
    oursStdoutBytesPerRequest: stdoutBytes / (requests + options.warmup * samples.length),
    modelLoadMs: oursReady.modelLoadMs,
  };
}

/** One cold process: spawn -> the "ANSWER" line on stdout. */
function coldRun(side, image) {
  return new Promise((resolve, reject) => {
    const script = join(BENCH_DIR, side === 'baseline' ? 'baseline.mjs' : 'ours.mjs');
    const t0 = performance.now();
    const child = spawn(process.execPath, [script, '--once', image.path], { cwd: RUNTIME_DIR, env: childEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    const out = { side, image: image.name };
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      const now = performance.now();
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('ANSWER ')) {
          out.wallMs = now - t0;
          out.answer = JSON.parse(line.slice('ANSWER '.length));
        } else if (line.startsWith('PHASES ')) {
          out.phases = JSON.parse(line.slice('PHASES '.length));
        } else if (line.includes('"ModelLoadTime"')) {
          try {
            out.modelLoadMs = JSON.parse(line).ModelLoadTime;
          } catch { /* not JSON */ }
        }
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || out.wallMs === undefined) reject(new Error(`${side} --once ${image.name} exited ${code} without an answer`));
      else resolve(out);
    });
  });
}

async function measureCold() {
  log(`cold: one untimed run per side (page cache), then ${options.cold} timed runs each, alternating`);
  await coldRun('baseline', samples[0]);
  await coldRun('ours', samples[0]);
  const runs = { baseline: [], ours: [] };
  const disagreements = new Set();
  for (let r = 0; r < options.cold; r++) {
    const image = samples[r % samples.length];
    const order = r % 2 === 0 ? ['baseline', 'ours'] : ['ours', 'baseline'];
    const pair = {};
    for (const side of order) {
      pair[side] = await coldRun(side, image);
      runs[side].push(pair[side]);
    }
    const top = (a) => a.predictions?.[0]?.label;
    if (top(pair.baseline.answer) !== top(pair.ours.answer)) disagreements.add(`${image.name}: baseline ${top(pair.baseline.answer)}, ours ${top(pair.ours.answer)}`);
    log(`cold: run ${r + 1}/${options.cold} (${image.name}): baseline ${ms(pair.baseline.wallMs, 0)} ms, ours ${ms(pair.ours.wallMs, 0)} ms`);
  }
  const b = runs.baseline;
  const o = runs.ours;
  const m = (list, f) => median(list.map(f));
  return {
    runs: options.cold,
    baseline: summary(b.map((x) => x.wallMs)),
    ours: summary(o.map((x) => x.wallMs)),
    modelLoad: summary(o.filter((x) => typeof x.modelLoadMs === 'number').map((x) => x.modelLoadMs)),
    phases: {
      baseline: {
        boot: m(b, (x) => x.phases.importsDone),
        backend: m(b, (x) => x.phases.backendReady - x.phases.importsDone),
        model: m(b, (x) => x.phases.modelLoaded - x.phases.backendReady),
        request: m(b, (x) => x.phases.answered - x.phases.modelLoaded),
        outside: m(b, (x) => x.wallMs - x.phases.answered),
      },
      ours: {
        boot: m(o, (x) => x.phases.createStart),
        backend: m(o, (x) => x.phases.backendChosen - x.phases.createStart),
        model: m(o, (x) => x.phases.modelLoaded - x.phases.backendChosen),
        request: m(o, (x) => x.phases.answered - x.phases.initDone),
        outside: m(o, (x) => x.wallMs - x.phases.answered),
      },
    },
    disagreements: [...disagreements],
  };
}

/** Bundles the functions ours.mjs breakdown() calls from runtime/src to `outfile`; its path, or undefined. */
async function buildProbe(outfile) {
  try {
    const { build } = await import('esbuild');
    await build({
      stdin: {
        contents: [
          "export { configFromEnv } from './src/config';",
          "export { fromApiGatewayV1 } from './src/events';",
          "export { decodeImage } from './src/image-decode';",
          "export { batchImagesToTensor, resolveInputSize } from './src/image-preprocess';",
        ].join('\n'),
        resolveDir: RUNTIME_DIR, sourcefile: 'bench-probe.ts', loader: 'ts',
      },
      absWorkingDir: RUNTIME_DIR, outfile, bundle: true, platform: 'node', target: 'node20', format: 'esm',
      external: ['@tensorflow/*', 'sharp'], logLevel: 'silent',
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    });
    return outfile;
  } catch (err) {
    log(`probe bundle failed, warm breakdown skipped: ${err.message}`);
    return undefined;
  }
}

/**
 * What dist/handler.mjs loads, per package: at import (the entry and the chunks it imports
 * statically, transitively) and on demand (chunks reached only through a dynamic import()).
 * esbuild re-runs scripts/bundle.mjs's handler build in memory, with its options (chunk
 * boundaries depend on them, and on building cli.ts alongside), for the metafile; the
 * outputs are checked against the measured snapshot by name and size. Undefined if that fails.
 */
async function bundleComposition() {
  try {
    const { build } = await import('esbuild');
    // Keep in step with scripts/bundle.mjs (its `common` options and the handler/cli build).
    const result = await build({
      entryPoints: { handler: 'src/lambda.ts', cli: 'src/cli.ts' }, absWorkingDir: RUNTIME_DIR, outdir: join(RUNTIME_DIR, 'dist'),
      outExtension: { '.js': '.mjs' }, bundle: true, platform: 'node', target: 'node20', format: 'esm',
      splitting: true, chunkNames: 'chunks/[name]-[hash]', sourcemap: 'linked', legalComments: 'linked', metafile: true,
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
      external: ['@tensorflow/*', 'sharp'], write: false, logLevel: 'silent',
    });
    const outputs = result.metafile.outputs;
    const entry = Object.keys(outputs).find((f) => outputs[f].entryPoint === 'src/lambda.ts');
    /** The outputs reachable from `roots` through import edges of the given kinds (bundled files only). */
    const closure = (roots, kinds) => {
      const seen = new Set();
      const stack = [...roots];
      while (stack.length) {
        const f = stack.pop();
        if (seen.has(f)) continue;
        seen.add(f);
        for (const i of outputs[f].imports) if (!i.external && kinds.includes(i.kind) && outputs[i.path]) stack.push(i.path);
      }
      return seen;
    };
    const atImport = closure([entry], ['import-statement']);
    const reachable = closure([entry], ['import-statement', 'dynamic-import']);
    const onDemand = [...reachable].filter((f) => !atImport.has(f));
    // Which runtime/src files hold the dynamic import()s of bundled code.
    const dynamicIn = Object.entries(result.metafile.inputs)
      .filter(([file, input]) => file.startsWith('src/') && input.imports.some((i) => i.kind === 'dynamic-import' && !i.external))
      .map(([file]) => file);
    const group = (file) => {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? (file.startsWith('src/') ? 'runtime/src' : file.replace(/^\.\.\//, ''));
      const sdk = pkg.startsWith('@aws-sdk/') || pkg.startsWith('@smithy/') || pkg.startsWith('@aws-crypto/') || ['bowser', 'fast-xml-parser', 'strnum'].includes(pkg);
      return sdk ? 'AWS SDK S3 client' : pkg;
    };
    const describe = (files) => {
      const byPackage = {};
      for (const f of files) {
        for (const [input, { bytesInOutput }] of Object.entries(outputs[f].inputs)) byPackage[group(input)] = (byPackage[group(input)] ?? 0) + bytesInOutput;
      }
      return {
        files: files.map((f) => f.replace(/^dist\//, '')).sort((a, b) => (a === 'handler.mjs' ? -1 : b === 'handler.mjs' ? 1 : a.localeCompare(b))),
        kib: Math.round(files.reduce((a, f) => a + outputs[f].bytes, 0) / 1024),
        packages: Object.entries(byPackage).sort((a, b) => b[1] - a[1]).map(([name, bytes]) => ({ name, kib: Math.round(bytes / 1024) })),
      };
    };
    // The snapshot the bench measured holds handler.mjs and chunks/ as dist/ had them.
    const mismatched = [...reachable].filter((f) => {
      const copy = join(snapshot, f.replace(/^dist\//, ''));
      return !existsSync(copy) || statSync(copy).size !== outputs[f].bytes;
    }).map((f) => f.replace(/^dist\//, ''));
    return { atImport: describe([...atImport]), onDemand: describe(onDemand), dynamicIn, mismatched };
  } catch (err) {
    log(`bundle composition skipped: ${err.message}`);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------

/** What the warm worker loaded of the on-demand part, after all its requests. */
function loadedNote(bundle, warm) {
  if (bundle.mismatched.length) return ' (the re-run does not match the measured build: see the note above)';
  const loaded = new Set(warm.loadedFiles);
  const onDemandLoaded = bundle.onDemand.files.filter((f) => loaded.has(f));
  const atImportMissing = bundle.atImport.files.filter((f) => !loaded.has(f));
  if (atImportMissing.length) return `; the warm worker's record of loaded files lacks ${atImportMissing.join(', ')}, so it cannot tell what was loaded`;
  return onDemandLoaded.length === 0
    ? `; the warm "ours" process, after its ${warm.baseline.n + warm.warmup * warm.images.length} /classify requests on a local model, had loaded none of it`
    : `; the warm "ours" process had loaded ${onDemandLoaded.join(', ')} of it by the end of its /classify requests`;
}

/** A difference with its sign: "+0.12" / "-0.05". */
function signed(v, digits = 2) {
  return Number.isFinite(v) ? `${v >= 0 ? '+' : '-'}${Math.abs(v).toFixed(digits)}` : 'n/a';
}

function verdict(ratio, target) {
  return ratio <= target ? 'yes' : '**no**';
}

function renderSection({ machine, warm, cold, bundle, totalS }) {
  const rows = [
    ['Warm request, median (ms)', warm.baseline.median, warm.ours.median, TARGET_WARM],
    ['Warm request, p90 (ms)', warm.baseline.p90, warm.ours.p90, TARGET_WARM],
    ['Cold start to first answer, median (ms)', cold.baseline.median, cold.ours.median, TARGET_COLD],
    ['Cold start to first answer, p90 (ms)', cold.baseline.p90, cold.ours.p90, TARGET_COLD],
  ];
  const missed = rows.filter(([, b, o, t]) => o / b > t);
  const L = [];
  L.push(SECTION, '');
  L.push(`Measured ${machine.date} on ${machine.cpu} (${machine.arch}), ${machine.cores} cores, ${machine.ramGiB} GiB RAM, Node ${machine.node}; TensorFlow.js wasm backend on both sides; 1-minute load average ${machine.load}; bench run took ${totalS.toFixed(0)} s.`);
  if (machine.busy) L.push('', `**Note:** other work was running on this machine when the bench started (load average ${machine.load}); both sides alternate, so it adds noise rather than bias, but rerun on a quiet machine for stable numbers.`);
  L.push('');
  L.push('Reproduce from the repository root with `npx projen bench` (runs `runtime:build`, then `npm --prefix runtime run bench`, i.e. `node bench/run.mjs` in `runtime/`). Options: `--rounds N --warmup N --cold N --no-write --json FILE`.');
  L.push('');
  L.push('| metric | baseline | ours | ratio | target | met? |');
  L.push('| --- | ---: | ---: | ---: | ---: | --- |');
  for (const [name, b, o, t] of rows) L.push(`| ${name} | ${ms(b)} | ${ms(o)} | ${(o / b).toFixed(2)} | <= ${t.toFixed(2)} | ${verdict(o / b, t)} |`);
  if (Number.isFinite(cold.modelLoad.median)) {
    L.push(`| Our model load + warm-up (ModelLoadTime metric), median (ms) | | ${ms(cold.modelLoad.median)} | | | |`);
  }
  L.push('');
  L.push('**Baseline** (`runtime/bench/baseline.mjs`): the least work that answers the same question with the same model on the same backend: one process with `@tensorflow/tfjs` and the wasm backend loads `model.json` and its shard with `tf.loadLayersModel(tf.io.fromMemory(...))`, and per image does sharp decode to raw RGB, `tf.tensor3d`, `tf.image.resizeBilinear(x, [224, 224], true)`, `/255`, `expandDims`, `predict`, `await data()` and picks the top 5 (inside `tf.tidy`, output disposed); no validation, routing, logging or metrics. Timed from image bytes in memory to the top 5.');
  L.push('');
  L.push('**Ours**: `runtime/dist/handler.mjs` (the bundled Lambda entry) imported with `SERVERLESS_TF_MODEL_URI`, `SERVERLESS_TF_TASK`, `SERVERLESS_TF_BACKEND=wasm` and `SERVERLESS_TF_MODEL_NAME` set, invoked with a real API Gateway REST (v1) proxy event for `POST /classify`: the image base64-encoded in `body`, `isBase64Encoded: true`, `Content-Type` of the image. Timed from the handler call to its resolved proxy response (JSON body), with Powertools INFO logs and embedded metrics written to stdout as in Lambda. The bench copies `dist/handler.mjs` and `dist/chunks/` once at its start and runs that copy throughout, so every measurement is of one build.');
  L.push('');
  L.push('### How it was measured');
  L.push('');
  L.push(`- **Warm** (${warm.warmup} warm-up rounds, then ${warm.rounds} measured rounds; a round is every image in \`runtime/samples\` through both sides, ${warm.baseline.n} measured requests per side): each side runs in its own long-lived child process (one backend init each), and the parent sends them the same image one after the other, alternating which side goes first by round and image. Separate processes because the two would otherwise share one tfjs engine, one wasm heap and one V8 heap (each side's garbage and allocations would land on the other's timings); one-at-a-time because this machine has ${machine.cores} cores, and wasm inference plus libvips threads would otherwise compete. The time is taken inside each child, so IPC is not counted. sharp's libvips operation cache is off on both sides (the runtime turns it off, and the bench repeats images, which real traffic does not).`);
  L.push(`- **Cold** (${cold.runs} runs per side after one untimed run each to warm the page cache, alternating which side goes first): wall time from \`spawn(node ...)\` to the \`ANSWER\` line on the child's stdout. Baseline: \`node bench/baseline.mjs --once IMAGE\` (load model, classify one image, print). Ours: \`node bench/ours.mjs --once IMAGE\`, which imports \`dist/handler.mjs\` (its init loads and warms the model) and invokes the handler with one v1 event, then prints the response body. The image rotates through the samples, the same for both sides in a pair.`);
  L.push(`- Answers agree: ${warm.disagreements.length === 0 && cold.disagreements.length === 0 ? 'both sides returned the same top label for every image, warm and cold.' : `**no**: ${[...warm.disagreements, ...cold.disagreements].join('; ')}.`}`);
  L.push('');
  L.push('### Warm, per image (medians, ms)');
  L.push('');
  L.push('| image | pixels | KiB | baseline | (of which decode) | ours | (of which classify) | (outside classify) | ratio |');
  L.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const im of warm.images) {
    L.push(`| ${im.name} | ${im.size} | ${im.kib} | ${ms(im.baseline)} | ${ms(im.baselineDecode)} | ${ms(im.ours)} | ${ms(im.oursInference)} | ${ms(im.oursOutside, 2)} | ${(im.ours / im.baseline).toFixed(2)} |`);
  }
  L.push('');
  L.push('"classify" is our `InferenceTime` metric (service.classify: decode, preprocess, predict, top-k); "outside classify" is the rest of the handler: event recognition, base64 validation and decoding, routing, JSON response, metric emission.');
  L.push('');
  const bd = warm.breakdown;
  const avg = bd ? (f) => bd.reduce((a, r) => a + f(r), 0) / bd.length : () => NaN;
  const extra = {
    event: avg((r) => r.eventMs),
    base64: avg((r) => r.base64DecodeOnlyMs),
    decode: avg((r) => r.decodeOursMs - r.decodeMinimalMs),
    preprocess: avg((r) => r.preprocessOursMs - r.preprocessMinimalMs),
  };
  L.push('### Where our extra warm time goes (the runtime\'s own functions, medians, ms)');
  L.push('');
  if (!bd) {
    L.push('Not measured in this run (the bench could not bundle or call the runtime\'s functions; see its log).');
  } else {
    L.push('Timed one by one in the warm "ours" process after the measured rounds, 25 times each, every timed call right after an untimed call of the same step (the first sharp decode after other work is slower on the large images, whichever decode it is): the runtime\'s own `fromApiGatewayV1` (`events.ts`: the v1 event to a request, headers normalised and the base64 body checked and decoded by `bodyOf`), `decodeImage` (`image-decode.ts`) and `batchImagesToTensor` (`image-preprocess.ts`), bundled from `runtime/src` by the bench and called with the options the image classifier passes under the handler\'s configuration, next to the baseline\'s version of each step. They explain the difference; the handler timings above are the measurement.');
    L.push('');
    L.push('| image | event -> request (ours) | `Buffer.from(body, \'base64\')` alone | decode: ours | decode: minimal | preprocess: ours | preprocess: minimal |');
    L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of bd) {
      L.push(`| ${r.name} | ${ms(r.eventMs, 2)} | ${ms(r.base64DecodeOnlyMs, 2)} | ${ms(r.decodeOursMs, 2)} | ${ms(r.decodeMinimalMs, 2)} | ${ms(r.preprocessOursMs, 2)} | ${ms(r.preprocessMinimalMs, 2)} |`);
    }
    L.push('');
    L.push(`Mean over the images: event -> request ${ms(extra.event, 2)} ms (the base64 decode alone ${ms(extra.base64, 2)} ms); decode ${signed(extra.decode)} ms and preprocessing ${signed(extra.preprocess)} ms against the baseline's. Measured median of everything outside classify: ${ms(warm.outside.median, 2)} ms per request (about ${Math.round(warm.oursStdoutBytesPerRequest)} bytes of logs/metrics on stdout per request). Median warm difference ours - baseline: ${ms(warm.ours.median - warm.baseline.median, 2)} ms.`);
  }
  L.push('');
  L.push('### Cold start phases (medians, ms, from process start)');
  L.push('');
  const pb = cold.phases.baseline;
  const po = cold.phases.ours;
  L.push('| side | node boot + module load | backend init | model load | first request | spawn and pipe overhead | total (wall) |');
  L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  L.push(`| baseline | ${ms(pb.boot, 0)} | ${ms(pb.backend, 0)} | ${ms(pb.model, 0)} | ${ms(pb.request, 0)} (first predict) | ${ms(pb.outside, 0)} | ${ms(cold.baseline.median, 0)} |`);
  L.push(`| ours | ${ms(po.boot, 0)} | ${ms(po.backend, 0)} | ${ms(po.model, 0)} (incl. warm-up predict) | ${ms(po.request, 0)} (second predict) | ${ms(po.outside, 0)} | ${ms(cold.ours.median, 0)} |`);
  L.push('');
  L.push('Phases are medians of each phase separately, so they need not add up to the median total; times count from process start (`performance.now()` in the child). Ours: "node boot + module load" ends when `InferenceService.create` starts (Node start, loading `handler.mjs` and the chunks it imports statically, tfjs, sharp and Powertools; see the bundle below); "backend init" ends at the "TensorFlow backend chosen" log (it includes importing `@tensorflow/tfjs-backend-wasm`, which the baseline imports statically, in its module load); "model load" ends at the ModelLoadTime metric and includes the warm-up prediction on a blank image. The baseline has no warm-up, so its first request pays the first prediction instead.');
  const warmUpNet = (po.model + po.request) - (pb.model + pb.request);
  L.push('');
  L.push(`Cold difference ours - baseline (medians): ${ms(cold.ours.median - cold.baseline.median, 0)} ms, of which module load ${ms(po.boot - pb.boot, 0)} ms, backend init ${ms(po.backend - pb.backend, 0)} ms, and model load + warm-up + first request vs model load + first request ${ms(warmUpNet, 0)} ms.`);
  L.push('');
  L.push('### What `handler.mjs` loads (esbuild metafile)');
  L.push('');
  const packages = (part, n = 5) => part.packages.slice(0, n).map((t) => `${t.name} ${t.kib}`).join(', ');
  if (!bundle) {
    L.push('Not measured in this run (esbuild could not re-run the bundle; see the bench log).');
  } else {
    L.push('esbuild re-runs the handler build of `scripts/bundle.mjs` in memory, with its options (code splitting included), for its metafile. "At import" is `handler.mjs` and every chunk it imports statically, directly or through another chunk; "on demand" is what only a dynamic `import()` reaches. Files in KiB as written; packages in KiB of their code in those files (tfjs and sharp are external, not bundled).');
    L.push('');
    L.push('| loaded | files | KiB | largest packages (KiB) |');
    L.push('| --- | --- | ---: | --- |');
    L.push(`| at import | ${bundle.atImport.files.map((f) => `\`${f}\``).join(', ')} | ${bundle.atImport.kib} | ${packages(bundle.atImport)} |`);
    const where = bundle.dynamicIn.length ? ` (\`import()\` in ${bundle.dynamicIn.map((f) => `\`${f}\``).join(', ')})` : '';
    L.push(`| on demand${where} | ${bundle.onDemand.files.map((f) => `\`${f}\``).join(', ') || 'none'} | ${bundle.onDemand.kib} | ${packages(bundle.onDemand) || '-'} |`);
    L.push('');
    L.push(bundle.mismatched.length === 0
      ? 'The re-run\'s files match the measured build (`handler.mjs` and `chunks/`) by name and size.'
      : `**Note:** the re-run does not match the measured build for ${bundle.mismatched.map((f) => `\`${f}\``).join(', ')} (a bundled source or \`scripts/bundle.mjs\` changed after \`dist/\` was built, or the bench's copy of the bundle options is out of step), so this table may not describe the measured build; rebuild and rerun.`);
  }
  L.push('');
  if (missed.length === 0) {
    L.push('All targets are met.');
  } else {
    L.push(`**Targets missed:** ${missed.map(([n, b, o, t]) => `${n} (${(o / b).toFixed(2)} > ${t.toFixed(2)})`).join('; ')}.`);
  }
  L.push('');
  L.push('### What the profile suggests');
  L.push('');
  const warmDiff = warm.ours.median - warm.baseline.median;
  const warmPieces = bd
    ? ` Of the pieces timed above, converting the event costs ${ms(extra.event, 2)} ms (the base64 decode alone ${ms(extra.base64, 2)} ms); inside classify, \`decodeImage\` takes ${signed(extra.decode)} ms and \`batchImagesToTensor\` ${signed(extra.preprocess)} ms against the baseline's decode and preprocessing (means over the images).`
    : '';
  L.push(`- Warm: our median request takes ${ms(Math.abs(warmDiff), 2)} ms ${warmDiff >= 0 ? 'more' : 'less'} than the baseline's (ratio ${(warm.ours.median / warm.baseline.median).toFixed(2)}, target <= ${TARGET_WARM.toFixed(2)}). Ours spends ${ms(warm.outside.median, 2)} ms (median) outside classify: event recognition, the request body, routing, the JSON response and the log and metric lines.${warmPieces}`);
  const bundleText = bundle
    ? ` Importing \`handler.mjs\` loads ${bundle.atImport.kib} KiB of bundled code (${bundle.atImport.files.length} files; ${packages(bundle.atImport, 3)} KiB); ${bundle.onDemand.kib} KiB (${packages(bundle.onDemand, 2) || 'nothing'} KiB) is loaded only on demand${bundle.dynamicIn.length ? `, by the \`import()\` in ${bundle.dynamicIn.map((f) => `\`${f}\``).join(', ')}` : ''}${loadedNote(bundle, warm)}.`
    : '';
  L.push(`- Cold: node boot + module load takes ${ms(po.boot, 0)} ms against the baseline's ${ms(pb.boot, 0)} ms, and backend init ${ms(po.backend - pb.backend, 0)} ms more.${bundleText}`);
  L.push(`- Warm-up in init: the runtime runs one prediction on a blank image during init, by design. Where init is hidden from callers (provisioned concurrency, environments the scheduled warmer keeps warm), the first real request is then a warmed one: ${ms(po.request, 0)} ms here against the baseline's ${ms(pb.request, 0)} ms first request. On an on-demand cold start the caller waits for init too: ${warmUpNet > 0 ? `model load + warm-up + first request is ${ms(warmUpNet, 0)} ms more than the baseline's model load + first request, the measured net cost of warming on the wasm backend, where the first prediction is slow either way.` : `model load + warm-up + first request is ${ms(-warmUpNet, 0)} ms less than the baseline's model load + first request, so warming pays for itself there too.`}`);
  return L.join('\n') + '\n';
}

