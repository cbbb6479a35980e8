// The minimal hand-written baseline: the least work that classifies an image with the
// same model on the same backend. TensorFlow.js + the wasm backend, the model read from
// disk with tf.io.fromMemory, and per image: sharp decode to raw RGB -> tensor3d ->
// resizeBilinear(224x224, alignCorners) -> /255 -> expandDims -> predict -> data() -> top 5.
// No validation, no routing, no logs, no metrics.
//
//   node bench/baseline.mjs --once <image>   load, classify one image, print "ANSWER {...}", exit
//   node bench/baseline.mjs --serve          IPC worker for bench/run.mjs (warm measurements)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { MODEL_DIR, loadSamples, loadTask, topIndices } from './lib.mjs';

const importsDone = performance.now();

// libvips' operation cache would serve a repeated identical image from memory; the
// benchmark repeats the same few images, real traffic does not, and the runtime turns
// the cache off. Off here too, so neither side gets cache hits a Lambda would never see.
sharp.cache(false);

const SIZE = 224;

export async function createBaseline() {
  const phases = {};
  await tf.setBackend('wasm');
  await tf.ready();
  phases.backendReady = performance.now();
  const modelJson = JSON.parse(readFileSync(join(MODEL_DIR, 'model.json'), 'utf8'));
  const weightSpecs = modelJson.weightsManifest.flatMap((g) => g.weights);
  const shards = Buffer.concat(modelJson.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(MODEL_DIR, p)))));
  const weightData = shards.buffer.slice(shards.byteOffset, shards.byteOffset + shards.byteLength);
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs, weightData }));
  phases.modelLoaded = performance.now();
  const labels = loadTask().labels;

  /** bytes -> top-5 [{label, score}], with the decode time for the breakdown. */
  async function classify(bytes) {
    const started = performance.now();
    const { data, info } = await sharp(bytes).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const decoded = performance.now();
    const y = tf.tidy(() => {
      const x = tf.tensor3d(data, [info.height, info.width, info.channels]);
      const resized = tf.image.resizeBilinear(x, [SIZE, SIZE], true);
      return model.predict(tf.expandDims(tf.div(resized, 255), 0));
    });
    const scores = await y.data();
    y.dispose();
    const top = topIndices(scores, 5).map((i) => ({ label: labels[i], score: scores[i] }));
    return { top, decodeMs: decoded - started, totalMs: performance.now() - started };
  }
  return { classify, phases };
}

async function once(imagePath) {
  const baseline = await createBaseline();
  const { top } = await baseline.classify(readFileSync(imagePath));
  const answered = performance.now();
  // Process-relative times (performance.now() counts from process start).
  const p = baseline.phases;
  console.log(`PHASES ${JSON.stringify({ importsDone, backendReady: p.backendReady, modelLoaded: p.modelLoaded, answered })}`);
  console.log(`ANSWER ${JSON.stringify({ predictions: top })}`);
}

async function serve() {
  const samples = loadSamples();
  const baseline = await createBaseline();
  process.on('message', async (msg) => {
    if (msg.type === 'run') {
      const r = await baseline.classify(samples[msg.index].bytes);
      process.send({ type: 'result', ms: r.totalMs, decodeMs: r.decodeMs, top1: r.top[0].label, top: r.top });
    } else if (msg.type === 'exit') {
      process.disconnect();
    }
  });
  process.send({ type: 'ready', initMs: performance.now(), backend: tf.getBackend() });
}

const args = process.argv.slice(2);
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (args[0] === '--once' && args[1]) {
    await once(args[1]);
  } else if (args[0] === '--serve') {
    await serve();
  } else {
    console.error('usage: node bench/baseline.mjs --once <image> | --serve');
    process.exitCode = 2;
  }
}
