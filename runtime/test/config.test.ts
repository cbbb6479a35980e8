// The configuration contract: environment variables in, a validated config out, and
// init-time errors that name the variable and say what it should hold.
import { configFromEnv, parseTaskConfig } from '../src/config';
import { ConfigurationError } from '../src/errors';
import { RuntimeEnvironment } from '../../lib/runtime-environment';

const base = { [RuntimeEnvironment.MODEL_URI]: '/opt/model' };

describe('configFromEnv', () => {
  test('defaults: tensor task, auto backend, format and coalescing, 6 MB body limit, /tmp cache, 8 MiB chunks, no jobs', () => {
    expect(configFromEnv(base)).toEqual({
      modelUri: '/opt/model', modelFormat: 'auto', modelName: 'model', task: { type: 'tensor' }, backend: 'auto',
      maxBodyBytes: 6 * 1024 * 1024, maxImagePixels: 40_000_000, cacheDir: '/tmp/serverless-tf/models',
      outputBucket: undefined, outputPrefix: 'predictions/',
      coalesceMaxRows: 'auto', coalesceMaxWaitMs: 'auto',
      batchQueueUrl: undefined, batchChunkBytes: 8 * 1024 * 1024, batchRows: 1024,
      jobs: undefined, corsAllowOrigins: undefined,
    });
  });

  test('reads every variable of the contract', () => {
    const config = configFromEnv({
      ...base,
      [RuntimeEnvironment.MODEL_FORMAT]: 'graph', [RuntimeEnvironment.MODEL_NAME]: 'resnet-50.v2',
      [RuntimeEnvironment.TASK]: '{"type":"tabular","features":["a","b"],"labels":["x","y"]}',
      [RuntimeEnvironment.BACKEND]: 'wasm', [RuntimeEnvironment.MAX_BODY_BYTES]: '1048576',
      [RuntimeEnvironment.MAX_IMAGE_PIXELS]: '1000000', [RuntimeEnvironment.CACHE_DIR]: '/tmp/m',
      [RuntimeEnvironment.OUTPUT_BUCKET]: 'out', [RuntimeEnvironment.OUTPUT_PREFIX]: 'res/',
      [RuntimeEnvironment.COALESCE_MAX_ROWS]: '8', [RuntimeEnvironment.COALESCE_MAX_WAIT_MS]: '2',
      [RuntimeEnvironment.BATCH_QUEUE_URL]: 'https://queue.example/q', [RuntimeEnvironment.BATCH_CHUNK_BYTES]: '1048576',
      [RuntimeEnvironment.BATCH_ROWS]: '128',
      [RuntimeEnvironment.JOBS_TABLE]: 'jobs', [RuntimeEnvironment.JOBS_BUCKET]: 'job-bucket', [RuntimeEnvironment.JOBS_QUEUE_URL]: 'https://queue.example/jobs',
      [RuntimeEnvironment.JOBS_TOPIC_ARN]: 'arn:aws:sns:us-east-1:123456789012:done', [RuntimeEnvironment.JOBS_EVENT_BUS]: 'default',
      [RuntimeEnvironment.JOBS_TTL_DAYS]: '3', [RuntimeEnvironment.JOBS_UPLOAD_EXPIRY_SECONDS]: '600',
      [RuntimeEnvironment.CORS_ALLOW_ORIGINS]: 'https://app.example.com, http://localhost:3000',
    });
    expect(config).toEqual({
      modelUri: '/opt/model', modelFormat: 'graph', modelName: 'resnet-50.v2',
      task: { type: 'tabular', features: ['a', 'b'], labels: ['x', 'y'] }, backend: 'wasm',
      maxBodyBytes: 1048576, maxImagePixels: 1000000, cacheDir: '/tmp/m', outputBucket: 'out', outputPrefix: 'res/',
      coalesceMaxRows: 8, coalesceMaxWaitMs: 2,
      batchQueueUrl: 'https://queue.example/q', batchChunkBytes: 1048576, batchRows: 128,
      jobs: {
        table: 'jobs', bucket: 'job-bucket', queueUrl: 'https://queue.example/jobs',
        topicArn: 'arn:aws:sns:us-east-1:123456789012:done', eventBus: 'default', ttlDays: 3, uploadExpirySeconds: 600,
      },
      corsAllowOrigins: ['https://app.example.com', 'http://localhost:3000'],
    });
  });

  test.each([
    [{}, /SERVERLESS_TF_MODEL_URI is not set/],
    [{ ...base, [RuntimeEnvironment.BACKEND]: 'gpu' }, /SERVERLESS_TF_BACKEND must be one of auto, tensorflow-gpu, tensorflow, wasm, cpu; got "gpu"/],
    [{ ...base, [RuntimeEnvironment.MODEL_FORMAT]: 'onnx' }, /SERVERLESS_TF_MODEL_FORMAT must be one of/],
    [{ ...base, [RuntimeEnvironment.MAX_BODY_BYTES]: '6MB' }, /SERVERLESS_TF_MAX_BODY_BYTES must be a positive whole number; got "6MB"/],
    [{ ...base, [RuntimeEnvironment.MODEL_NAME]: 'my model' }, /SERVERLESS_TF_MODEL_NAME must be 1-128 letters/],
    [{ ...base, [RuntimeEnvironment.TASK]: '{type: image}' }, /SERVERLESS_TF_TASK is not valid JSON/],
    [{ ...base, [RuntimeEnvironment.CORS_ALLOW_ORIGINS]: 'https://app.example.com/path' }, /SERVERLESS_TF_CORS_ALLOW_ORIGINS must list origins .* got "https:\/\/app.example.com\/path"/],
  ])('%j fails init with a message that says what to change', (env, message) => {
    expect(() => configFromEnv(env as Record<string, string>)).toThrow(ConfigurationError);
    expect(() => configFromEnv(env as Record<string, string>)).toThrow(message);
  });
});

describe('task validation', () => {
  test.each([
    ['{"type":"detection"}', /type must be "image-classification", "tabular" or "tensor"; got "detection"/],
    ['{"type":"image-classification"}', /inputSize must be a positive integer/],
    ['{"type":"image-classification","inputSize":[224,224,3]}', /inputSize must be/],
    ['{"type":"image-classification","inputSize":224,"channels":4}', /channels must be 1 or 3; got 4/],
    ['{"type":"image-classification","inputSize":224,"resize":"bicubic"}', /resize must be one of tf-bilinear, tf-nearest, sharp-lanczos3/],
    ['{"type":"image-classification","inputSize":224,"normalization":{"mean":[0.5],"std":[0.5]}}', /with 3 values each/],
    ['{"type":"image-classification","inputSize":224,"topK":0}', /topK must be a positive integer; got 0/],
    ['{"type":"tabular","features":[]}', /features must be a non-empty array/],
    ['{"type":"tabular","features":["a","a"]}', /duplicate names/],
    ['{"type":"tabular","features":["a"],"labels":["x"],"outputNames":["y"]}', /labels \(a classifier\) or outputNames \(a regressor\), not both/],
    ['[1,2]', /must be a JSON object with a "type"/],
  ])('%s is refused', (json, message) => {
    expect(() => parseTaskConfig(json, 'SERVERLESS_TF_TASK')).toThrow(message);
  });

  test('a full image task is accepted as given', () => {
    const json = '{"type":"image-classification","inputSize":[240,320],"channels":1,"resize":"sharp-linear","normalization":{"mean":[0.5],"std":[0.25]},"labels":["a","b"],"topK":1,"softmax":true}';
    expect(parseTaskConfig(json, 'task')).toEqual(JSON.parse(json));
  });
});
