// Model loading: formats detected from the files, SavedModel refused with a clear
// reason off the native backends, a forced backend that cannot start named with a
// hint, and a model read from S3 (s3rver on loopback) served end to end.
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { detectFormat } from '../src/model';
import { IRIS_FEATURES, IRIS_LABELS, linearGraphModel, serviceFor, trainIrisModel } from './support/models';
import { startS3Server } from './support/s3-server';
import { useAwsEnvironment } from './support/aws-env';

describe('format detection', () => {
  test('graph, layers and SavedModel folders', async () => {
    expect(await detectFormat((await linearGraphModel()).dir)).toBe('graph');
    expect(await detectFormat(await trainIrisModel())).toBe('layers');
    const saved = await mkdtemp(path.join(os.tmpdir(), 'saved-'));
    await writeFile(path.join(saved, 'saved_model.pb'), Buffer.from([8, 1]));
    expect(await detectFormat(saved)).toBe('saved_model');
  });

  test('a model.json that is neither format says so', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'odd-'));
    await writeFile(path.join(dir, 'model.json'), JSON.stringify({ format: 'onnx', modelTopology: { graph: {} } }));
    await expect(detectFormat(dir)).rejects.toThrow(/neither a TF.js graph model nor a layers model/);
  });
});

describe('backends', () => {
  test('a SavedModel on the wasm backend fails init with the reason and the two ways out', async () => {
    const saved = await mkdtemp(path.join(os.tmpdir(), 'saved-'));
    await writeFile(path.join(saved, 'saved_model.pb'), Buffer.from([8, 1]));
    await expect(serviceFor(saved, { type: 'tensor' })).rejects.toThrow(/SavedModel, which needs the native TensorFlow backend.*container image.*tensorflowjs_converter/s);
  });
});

describe('a model read from S3', () => {
  test('is downloaded at init into the cache and served', async () => {
    const server = await startS3Server();
    let restoreEnv: (() => void) | undefined;
    try {
      const s3 = server.client();
      await s3.send(new CreateBucketCommand({ Bucket: 'models' }));
      const local = await trainIrisModel();
      for (const file of await readdir(local)) {
        await s3.send(new PutObjectCommand({ Bucket: 'models', Key: `iris/v1/${file}`, Body: await readFile(path.join(local, file)) }));
      }
      // The runtime's own client, as in Lambda: endpoint and credentials from the environment.
      restoreEnv = useAwsEnvironment({ AWS_ENDPOINT_URL_S3: server.endpoint });
      const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'cache-'));
      const service = await serviceFor('s3://models/iris/v1/', { type: 'tabular', features: [...IRIS_FEATURES], labels: [...IRIS_LABELS] }, { cacheDir });
      expect(service.info.modelDir.startsWith(cacheDir)).toBe(true);
      const [answer] = await service.predictRows([Float32Array.from([5.1, 3.5, 1.4, 0.2])]) as { label: string }[][];
      expect(answer[0].label).toBe('setosa');
    } finally {
      restoreEnv?.();
      await server.stop();
    }
  });
});
