// Our side of the benchmark: the bundled Lambda entry, dist/handler.mjs, exactly as Lambda
// runs it. Importing it runs the init phase (backend, model load, warm-up; top-level
// await); each request is a real API Gateway REST (v1) proxy event carrying the image
// base64-encoded, POST /classify. The environment (model, task, backend) comes from the
// parent: bench/lib.mjs handlerEnv().
//
//   node bench/ours.mjs --once <image>   init, answer one event, print "ANSWER <body>", exit
//   node bench/ours.mjs --serve          IPC worker for bench/run.mjs (warm measurements)
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { HANDLER_PATH, apiGatewayV1Event, lambdaContext, loadSamples, median } from './lib.mjs';

const started = performance.now();
// run.mjs points this at a private copy of the bundle, so a rebuild of dist/ mid-run cannot touch it.
const handlerUrl = pathToFileURL(process.env.BENCH_HANDLER_PATH || HANDLER_PATH).href;

/**
 * Watches what the handler writes to stdout (Powertools JSON logs and embedded metrics)
 * and keeps the last InferenceTime metric: the time the service spent in classify()
 * (decode, preprocess, predict, top-k), so the rest of a request can be told apart.
 */
function watchMetrics() {
  const seen = { inferenceMs: undefined, modelLoadMs: undefined, lines: 0, bytes: 0, backendChosenAt: undefined, modelLoadedAt: undefined };
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk, ...rest) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    seen.lines += 1;
    seen.bytes += text.length;
    if (seen.backendChosenAt === undefined && text.includes('TensorFlow backend chosen')) seen.backendChosenAt = performance.now();
    if (seen.modelLoadedAt === undefined && text.includes('"ModelLoadTime"')) seen.modelLoadedAt = performance.now();
    if (text.includes('"InferenceTime"') || text.includes('"ModelLoadTime"')) {
      try {
        const m = JSON.parse(text);
        if (typeof m.InferenceTime === 'number') seen.inferenceMs = m.InferenceTime;
        if (typeof m.ModelLoadTime === 'number') seen.modelLoadMs = m.ModelLoadTime;
      } catch { /* not one JSON line: ignore */ }
    }
    return write(chunk, ...rest);
  };
  return seen;
}

async function once(imagePath) {
  const seen = watchMetrics();
  const { handler } = await import(handlerUrl);
  const initDone = performance.now();
  const ext = extname(imagePath).toLowerCase();
  const image = { name: basename(imagePath), type: ext === '.png' ? 'image/png' : ext === '.webp' ? 'image/webp' : ext === '.gif' ? 'image/gif' : 'image/jpeg', bytes: readFileSync(imagePath) };
  const res = await handler(apiGatewayV1Event(image, 'cold-1'), lambdaContext('cold-1'));
  const answered = performance.now();
  // createStart: when InferenceService.create began (the metric is logged as it returns).
  const createStart = seen.modelLoadedAt - seen.modelLoadMs;
  console.log(`PHASES ${JSON.stringify({ scriptStart: started, createStart, backendChosen: seen.backendChosenAt, modelLoaded: seen.modelLoadedAt, initDone, answered })}`);
  console.log(`ANSWER ${res.statusCode === 200 ? res.body : JSON.stringify({ statusCode: res.statusCode, body: res.body })}`);
}

/**
 * Records the URL of every module this process resolves from now on (a module.register
 * resolve hook; it runs at import time only, never inside a timed request), so the warm
 * worker can say which files of the split bundle it actually loaded.
 */
async function recordModuleUrls() {
  const { register } = await import('node:module');
  const { MessageChannel } = await import('node:worker_threads');
  const urls = new Set();
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (url) => urls.add(url));
  port1.unref();
  const hook = 'let port; export function initialize(data) { port = data.port; }'
    + ' export async function resolve(specifier, context, next) { const r = await next(specifier, context); port.postMessage(r.url); return r; }';
  register(`data:text/javascript,${encodeURIComponent(hook)}`, { data: { port: port2 }, transferList: [port2] });
  return urls;
}

async function serve() {
  const moduleUrls = await recordModuleUrls();
  const seen = watchMetrics();
  const samples = loadSamples();
  const events = samples.map((s) => apiGatewayV1Event(s));
  const { handler } = await import(handlerUrl);
  let n = 0;
  process.on('message', async (msg) => {
    if (msg.type === 'run') {
      const requestId = `warm-${++n}`;
      seen.inferenceMs = undefined;
      const t0 = performance.now();
      const res = await handler(events[msg.index], lambdaContext(requestId));
      const elapsed = performance.now() - t0;
      if (res.statusCode !== 200) {
        process.send({ type: 'error', message: `HTTP ${res.statusCode}: ${res.body}` });
        return;
      }
      const top = JSON.parse(res.body).predictions;
      process.send({ type: 'result', ms: elapsed, inferenceMs: seen.inferenceMs, top1: top[0].label, top });
    } else if (msg.type === 'breakdown') {
      try {
        process.send({ type: 'breakdown', result: await breakdown(samples, events, msg.reps ?? 10) });
      } catch (err) {
        process.send({ type: 'error', message: `breakdown: ${err.message}` });
      }
    } else if (msg.type === 'loaded') {
      // Files of the bundle (the directory of handler.mjs) this process has loaded so far.
      const dir = new URL('.', handlerUrl).href;
      process.send({ type: 'loaded', files: [...moduleUrls].filter((u) => u.startsWith(dir)).map((u) => u.slice(dir.length)).sort() });
    } else if (msg.type === 'exit') {
      process.disconnect();
    }
  });
  process.send({ type: 'ready', initMs: performance.now(), modelLoadMs: seen.modelLoadMs, stdoutLines: seen.lines });
}

/**
 * Times, one by one, the pieces of a request that the baseline does not do or does more
 * cheaply, next to the baseline's version of each. Our pieces are the runtime's own
 * functions (events.ts fromApiGatewayV1, image-decode.ts decodeImage, image-preprocess.ts
 * batchImagesToTensor), bundled from runtime/src by run.mjs (BENCH_PROBE_PATH) and called
 * with the handler's configuration, in this same warm process. They explain the
 * difference; the handler timings are the measurement.
 */
async function breakdown(samples, events, reps) {
  const probe = await import(pathToFileURL(process.env.BENCH_PROBE_PATH).href);
  const sharp = (await import('sharp')).default;
  const tf = await import('@tensorflow/tfjs');
  const config = probe.configFromEnv();
  const task = config.task;
  // The options ImageClassifier passes (tasks/image-classification.ts decode and constructor).
  const channels = task.channels ?? 3;
  const resize = task.resize ?? 'tf-bilinear';
  const size = probe.resolveInputSize(task.inputSize);
  const decodeOptions = {
    channels,
    maxPixels: config.maxImagePixels,
    resize: resize.startsWith('sharp-') ? { width: size[1], height: size[0], kernel: resize.slice('sharp-'.length) } : undefined,
  };
  const preprocessTask = { ...task, inputDtype: 'float32' }; // the demo model's input is float32
  /**
   * Runs the named pieces in turn, `reps` times, rotating their order; median of each.
   * Every timed call follows an untimed call of the same piece: whichever sharp decode
   * runs first after other work is slower on the large images (3-5 ms here), so without
   * it the piece that happened to follow the non-decode ones would carry that cost.
   */
  const timeAll = async (pieces) => {
    const names = Object.keys(pieces);
    const times = Object.fromEntries(names.map((n) => [n, []]));
    for (let i = 0; i < reps; i++) {
      for (let j = 0; j < names.length; j++) {
        const name = names[(i + j) % names.length];
        await pieces[name]();
        const t0 = performance.now();
        await pieces[name]();
        times[name].push(performance.now() - t0);
      }
    }
    return Object.fromEntries(names.map((n) => [n, median(times[n])]));
  };
  const out = [];
  for (let i = 0; i < samples.length; i++) {
    const bytes = samples[i].bytes;
    const event = events[i];
    const { data, info } = await sharp(bytes).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const shape = [info.height, info.width, 3];
    const pixels = await probe.decodeImage(bytes, decodeOptions);
    out.push({
      name: samples[i].name,
      ...await timeAll({
        // Ours: the v1 event -> HttpRequest (headers normalised, base64 body checked and decoded).
        eventMs: () => probe.fromApiGatewayV1(event),
        base64DecodeOnlyMs: () => Buffer.from(event.body, 'base64'),
        decodeOursMs: () => probe.decodeImage(bytes, decodeOptions),
        decodeMinimalMs: () => sharp(bytes).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true }),
        preprocessOursMs: async () => {
          const x = probe.batchImagesToTensor(tf, [pixels], preprocessTask);
          await x.data();
          x.dispose();
        },
        preprocessMinimalMs: async () => {
          const x = tf.tidy(() => tf.expandDims(tf.div(tf.image.resizeBilinear(tf.tensor3d(data, shape), [224, 224], true), 255), 0));
          await x.data();
          x.dispose();
        },
      }),
    });
  }
  return out;
}

const args = process.argv.slice(2);
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (args[0] === '--once' && args[1]) {
    await once(args[1]);
  } else if (args[0] === '--serve') {
    await serve();
  } else {
    console.error('usage: node bench/ours.mjs --once <image> | --serve');
    process.exitCode = 2;
  }
}
