#!/usr/bin/env node
// Converts the pretrained MobileNetV2 classifier that the `nsfwjs` package ships
// (as JS-embedded, base64 TF.js artifacts under dist/models/mobilenet_v2/) into a
// standard TF.js layers-model folder: runtime/models/mobilenet_v2/
//   model.json (format "layers-model"), group1-shard1of1.bin (byte-identical weights),
//   task.json (our runtime's task config), LICENSE (nsfwjs's) and README.md.
//
// Usage (from runtime/):  node scripts/convert-demo-model.mjs [--force]
//
// Idempotent: does nothing when model.json (and the other outputs) exist and
// model.json is newer than nsfwjs's package.json. Otherwise writes everything to a
// temporary folder, loads it back with tf.loadLayersModel(tf.io.fromMemory(...)) on
// the cpu backend, checks the output shape is [1,5], and only then moves it in place.
// Prints one line; exits non-zero with a message on failure.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile, copyFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PREFIX = 'convert-demo-model:';
const MODEL_NAME = 'mobilenet_v2';
const EXPECTED_LABELS = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];
const INPUT_SIZE = 224;

const runtimeDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(runtimeDir, 'models', MODEL_NAME);
const OUTPUT_FILES = ['model.json', 'task.json', 'LICENSE', 'README.md'];
const require = createRequire(path.join(runtimeDir, 'package.json'));

class ConversionError extends Error {}
function fail(msg) {
  throw new ConversionError(msg);
}

/** Finds the nsfwjs package folder without going through its `exports` map for subpaths. */
function findNsfwjsDir() {
  const candidates = [];
  try {
    // Resolves to <pkg>/dist/cjs/index.js; walk up to the folder whose package.json is nsfwjs's.
    let dir = path.dirname(require.resolve('nsfwjs'));
    for (let i = 0; i < 6; i++, dir = path.dirname(dir)) candidates.push(dir);
  } catch {
    /* fall through to the node_modules walk */
  }
  for (let dir = runtimeDir; ; dir = path.dirname(dir)) {
    candidates.push(path.join(dir, 'node_modules', 'nsfwjs'));
    if (path.dirname(dir) === dir) break;
  }
  for (const dir of candidates) {
    const pj = path.join(dir, 'package.json');
    if (!existsSync(pj)) continue;
    try {
      if (JSON.parse(readFileSync(pj, 'utf8')).name === 'nsfwjs') return dir;
    } catch {
      /* not it */
    }
  }
  fail('cannot find the nsfwjs package; run `npm install` in runtime/ first (it is a devDependency)');
}

const BYTES_PER_ELEMENT = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };
function expectedBytes(weights) {
  let total = 0;
  for (const w of weights) {
    const dtype = w.quantization?.dtype ?? w.dtype;
    const per = BYTES_PER_ELEMENT[dtype];
    if (!per) fail(`unsupported weight dtype ${dtype} for ${w.name}`);
    total += w.shape.reduce((a, b) => a * b, 1) * per;
  }
  return total;
}

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

/** Loads a browserify/UMD bundle from nsfwjs (dist/models is "type": "commonjs") by absolute path. */
function loadBundle(file) {
  if (!existsSync(file)) fail(`missing ${file} (unexpected nsfwjs layout)`);
  const mod = require(file);
  return mod && typeof mod === 'object' && 'default' in mod && Object.keys(mod).length === 1 ? mod.default : mod;
}

function decodeBase64Strict(b64, what) {
  if (typeof b64 !== 'string') fail(`${what}: expected a base64 string, got ${typeof b64}`);
  const clean = b64.replace(/\s+/g, '');
  const buf = Buffer.from(clean, 'base64');
  if (buf.toString('base64') !== clean) fail(`${what}: not valid base64`);
  return buf;
}

function readmeText(pkg, shards) {
  const shardList = shards.map((s) => `\`${s.file}\` (${s.bytes} bytes, sha256 \`${s.sha256}\`)`).join(', ');
  return `# mobilenet_v2 — demo image classifier

A MobileNetV2-based image classifier (Keras ${pkg.kerasVersion}, TF.js layers model,
224×224×3 input, 5-way softmax output) that sorts pictures into the classes
${EXPECTED_LABELS.map((l) => `\`${l}\``).join(', ')}. It is the default ("MobileNetV2",
~90 % accuracy per the upstream README) model of the **nsfwjs** library by Infinite Red.

## Where it came from

Extracted from the **nsfwjs** npm package, version **${pkg.version}** (\`${pkg.repository}\`),
files \`dist/models/mobilenet_v2/model.min.js\` and \`dist/models/mobilenet_v2/group1-shard*.min.js\`,
which embed the model JSON and base64-encoded weight shards in JavaScript bundles.
\`scripts/convert-demo-model.mjs\` unwraps them into the standard TF.js layout:

- \`model.json\` — same \`modelTopology\` and weight specs as shipped; \`format\` set to
  \`layers-model\`, shard paths renamed to the \`.bin\` files below.
- ${shardList} — the base64-decoded weight bytes, byte-identical to what nsfwjs loads.
  The weights are uint8-quantized (per-tensor min/scale, as shipped upstream); TF.js
  de-quantizes them at load time.
- \`task.json\` — this project's task config, matching nsfwjs's own \`classify()\`
  preprocessing: RGB → float ÷ 255 (0..1), bilinear resize to 224×224 with
  \`alignCorners: true\` (no crop, aspect ratio not preserved), labels in output order.

Do not edit these files by hand; re-run \`npm run demo-model\` in \`runtime/\`.

## License

MIT — ${pkg.copyright.replace(/\.$/, "")}. See \`LICENSE\` (copied verbatim from the
nsfwjs ${pkg.version} package). The model is for demonstration and testing of this
construct library only.
`;
}

async function verify(dir, expected) {
  const tf = await import('@tensorflow/tfjs');
  tf.enableProdMode(); // silences the "install our node backend" banner on first cpu-backend use
  await tf.setBackend('cpu');
  await tf.ready();

  const modelJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
  if (modelJson.format !== 'layers-model') fail(`verify: model.json format is ${modelJson.format}`);
  if (!Array.isArray(modelJson.weightsManifest)) fail('verify: model.json has no weightsManifest');
  const weightSpecs = [];
  const chunks = [];
  for (const group of modelJson.weightsManifest) {
    for (const p of group.paths) {
      const file = path.join(dir, p);
      if (!existsSync(file)) fail(`verify: weightsManifest path ${p} does not exist`);
      chunks.push(await readFile(file));
    }
    weightSpecs.push(...group.weights);
  }
  const all = Buffer.concat(chunks);
  if (sha256(all) !== expected.sha256) fail('verify: written weights are not byte-identical to the nsfwjs weights');
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);

  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs,
      weightData,
      format: modelJson.format,
      generatedBy: modelJson.generatedBy,
      convertedBy: modelJson.convertedBy,
    }),
    { strict: true },
  );
  try {
    const inShape = model.inputs[0].shape;
    if (inShape[1] !== INPUT_SIZE || inShape[2] !== INPUT_SIZE || inShape[3] !== 3) {
      fail(`verify: unexpected input shape [${inShape}]`);
    }
    const out = tf.tidy(() => model.predict(tf.zeros([1, INPUT_SIZE, INPUT_SIZE, 3])));
    const shape = out.shape;
    const values = await out.data();
    out.dispose();
    if (shape.length !== 2 || shape[0] !== 1 || shape[1] !== EXPECTED_LABELS.length) {
      fail(`verify: output shape is [${shape}], expected [1,${EXPECTED_LABELS.length}]`);
    }
    const sum = values.reduce((a, b) => a + b, 0);
    if (!values.every(Number.isFinite) || Math.abs(sum - 1) > 1e-3) {
      fail(`verify: output is not a probability vector (sum ${sum})`);
    }
    return { shape, backend: tf.getBackend() };
  } finally {
    model.dispose();
  }
}

async function main() {
  const force = process.argv.includes('--force');
  const pkgDir = findNsfwjsDir();
  const pkgJsonPath = path.join(pkgDir, 'package.json');
  const pkgJson = JSON.parse(readFileSync(pkgJsonPath, 'utf8'));
  const rel = path.relative(runtimeDir, outDir);

  const modelJsonOut = path.join(outDir, 'model.json');
  if (
    !force &&
    existsSync(modelJsonOut) &&
    OUTPUT_FILES.every((f) => existsSync(path.join(outDir, f))) &&
    statSync(modelJsonOut).mtimeMs > statSync(pkgJsonPath).mtimeMs
  ) {
    console.log(`${PREFIX} ${rel} is up to date (nsfwjs ${pkgJson.version}), nothing to do`);
    return;
  }

  // --- read what nsfwjs ships -------------------------------------------------------
  const srcDir = path.join(pkgDir, 'dist', 'models', MODEL_NAME);
  const src = loadBundle(path.join(srcDir, 'model.min.js'));
  if (!src?.modelTopology || !Array.isArray(src.weightsManifest)) {
    fail(`${srcDir}/model.min.js does not export a TF.js model JSON`);
  }
  const classesMod = loadBundle(path.join(pkgDir, 'dist', 'cjs', 'nsfw_classes.js'));
  const classes = classesMod.NSFW_CLASSES ?? classesMod;
  const labels = Object.keys(classes)
    .map(Number)
    .sort((a, b) => a - b)
    .map((i) => classes[i]);
  if (JSON.stringify(labels) !== JSON.stringify(EXPECTED_LABELS)) {
    fail(`nsfwjs class list changed: ${JSON.stringify(labels)}; review task.json before updating`);
  }
  const layers = src.modelTopology.model_config?.config?.layers ?? [];
  const inputShape = layers[0]?.config?.batch_input_shape;
  if (JSON.stringify(inputShape) !== JSON.stringify([null, INPUT_SIZE, INPUT_SIZE, 3])) {
    fail(`unexpected model input shape ${JSON.stringify(inputShape)}`);
  }

  const shards = [];
  const weightsManifest = src.weightsManifest.map((group) => {
    const groupBufs = [];
    const paths = group.paths.map((p) => {
      const file = `${p}.bin`;
      const bytes = decodeBase64Strict(loadBundle(path.join(srcDir, `${p}.min.js`)), `${p}.min.js`);
      groupBufs.push(bytes);
      shards.push({ file, bytes: bytes.length, sha256: sha256(bytes), data: bytes });
      return file;
    });
    const got = groupBufs.reduce((a, b) => a + b.length, 0);
    const want = expectedBytes(group.weights);
    if (got !== want) fail(`weight group ${group.paths.join(',')}: ${got} bytes decoded, specs need ${want}`);
    return { paths, weights: group.weights };
  });
  const allWeights = Buffer.concat(shards.map((s) => s.data));

  const modelJson = {
    format: 'layers-model',
    generatedBy: `keras v${src.modelTopology.keras_version ?? 'unknown'}`,
    convertedBy: `scripts/convert-demo-model.mjs from nsfwjs ${pkgJson.version}`,
    modelTopology: src.modelTopology,
    weightsManifest,
  };
  const task = {
    type: 'image-classification',
    inputSize: INPUT_SIZE,
    channels: 3,
    resize: 'tf-bilinear',
    alignCorners: true,
    normalization: 'zero-one',
    labels,
    topK: 5,
  };

  // --- write to a temp folder, verify, then swap into place ---------------------------
  const tmpDir = path.join(path.dirname(outDir), `.${MODEL_NAME}.tmp-${process.pid}`);
  await rm(tmpDir, { recursive: true, force: true });
  await mkdir(tmpDir, { recursive: true });
  try {
    for (const s of shards) await writeFile(path.join(tmpDir, s.file), s.data);
    await writeFile(path.join(tmpDir, 'task.json'), `${JSON.stringify(task, null, 2)}\n`);
    await copyFile(path.join(pkgDir, 'LICENSE'), path.join(tmpDir, 'LICENSE'));
    const repo = typeof pkgJson.repository === 'string' ? pkgJson.repository : pkgJson.repository?.url ?? '';
    await writeFile(
      path.join(tmpDir, 'README.md'),
      readmeText(
        {
          version: pkgJson.version,
          copyright:
            readFileSync(path.join(pkgDir, 'LICENSE'), 'utf8')
              .split('\n')
              .find((l) => /^\s*Copyright/i.test(l))
              ?.trim() ?? 'see LICENSE',
          kerasVersion: src.modelTopology.keras_version ?? '?',
          repository: repo.replace(/^git\+/, '').replace(/\.git$/, ''),
        },
        shards,
      ),
    );
    await writeFile(path.join(tmpDir, 'model.json'), JSON.stringify(modelJson)); // last: it is the freshness stamp

    const { shape, backend } = await verify(tmpDir, { sha256: sha256(allWeights) });

    await rm(outDir, { recursive: true, force: true });
    await mkdir(path.dirname(outDir), { recursive: true });
    await rename(tmpDir, outDir);
    const total = shards.reduce((a, s) => a + s.bytes, 0);
    console.log(
      `${PREFIX} wrote ${rel}/ from nsfwjs ${pkgJson.version} (model.json + ${shards.length} shard${shards.length === 1 ? '' : 's'}, ${total} weight bytes, ` +
        `${labels.length} labels); verified load on ${backend} backend, output shape [${shape}]`,
    );
  } catch (err) {
    await rm(tmpDir, { recursive: true, force: true });
    throw err;
  }
}

main().catch((err) => {
  const msg = err instanceof ConversionError ? err.message : err?.stack ?? String(err);
  console.error(`${PREFIX} FAILED: ${msg}`);
  process.exit(1);
});
