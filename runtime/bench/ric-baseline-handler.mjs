// The minimal hand-written Lambda handler the Runtime API cold-start bench compares ours
// with: what bench/baseline.mjs does, as a function. It is copied to /var/task/index.mjs;
// at init (top-level await) it starts the wasm backend and loads the model from
// /opt/model, and each API Gateway (v1) event's base64 image goes through sharp decode ->
// tensor3d -> resizeBilinear(224x224, alignCorners) -> /255 -> predict -> top 5.
// No validation, routing, logs or metrics.
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

sharp.cache(false);
const MODEL_DIR = '/opt/model';
await tf.setBackend('wasm');
await tf.ready();
const modelJson = JSON.parse(readFileSync(`${MODEL_DIR}/model.json`, 'utf8'));
const weightSpecs = modelJson.weightsManifest.flatMap((g) => g.weights);
const shards = Buffer.concat(modelJson.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(`${MODEL_DIR}/${p}`))));
const model = await tf.loadLayersModel(tf.io.fromMemory({
  modelTopology: modelJson.modelTopology, weightSpecs, weightData: shards.buffer.slice(shards.byteOffset, shards.byteOffset + shards.byteLength),
}));
const { labels } = JSON.parse(readFileSync(`${MODEL_DIR}/task.json`, 'utf8'));

export async function handler(event) {
  const bytes = Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  const { data, info } = await sharp(bytes).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const y = tf.tidy(() => {
    const x = tf.tensor3d(data, [info.height, info.width, info.channels]);
    return model.predict(tf.expandDims(tf.div(tf.image.resizeBilinear(x, [224, 224], true), 255), 0));
  });
  const scores = await y.data();
  y.dispose();
  const predictions = [...scores.keys()].sort((a, b) => scores[b] - scores[a]).slice(0, 5).map((i) => ({ label: labels[i], score: scores[i] }));
  return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ predictions }) };
}
