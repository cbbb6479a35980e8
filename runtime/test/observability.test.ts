// Metrics a dashboard relies on, as CloudWatch embedded-metric JSON on stdout (through
// Powertools): model load time at init, cold start once, inference time and batch size
// per prediction, errors by kind, and rows and failed rows per S3 batch chunk.
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { IRIS_FEATURES, IRIS_LABELS, linearGraphModel, serviceFor, trainIrisModel } from './support/models';
import { createHandler } from '../src/handler';
import { apiGatewayV1Event, s3Event } from './support/events';
import { startS3Server } from './support/s3-server';

interface Emf { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] }; [k: string]: unknown }

test('EMF metrics: ModelLoadTime, ColdStart once, InferenceTime and BatchSize, Errors by errorKind', async () => {
  const emf = await emfOf(async () => {
    const { dir } = await linearGraphModel();
    const service = await serviceFor(dir, { type: 'tensor' }, { modelName: 'linear' });
    const handler = createHandler(service);
    await handler(apiGatewayV1Event({ path: '/v1/models/linear:predict', body: JSON.stringify({ instances: [[1, 2, 3], [4, 5, 6]] }), contentType: 'application/json' }));
    await handler(apiGatewayV1Event({ path: '/v1/models/linear:predict', body: '{"instances": [[1]]}', contentType: 'application/json' }));
  });
  const named = (name: string) => emf.filter((e) => e._aws.CloudWatchMetrics[0].Metrics.some((m) => m.Name === name));
  expect(emf.every((e) => e._aws.CloudWatchMetrics[0].Namespace === 'ServerlessTensorFlow' && e.model === 'linear')).toBe(true);
  expect(named('ModelLoadTime')).toHaveLength(1);
  expect(named('ModelLoadTime')[0]._aws.CloudWatchMetrics[0].Metrics[0].Unit).toBe('Milliseconds');
  expect(named('ColdStart')).toHaveLength(1);
  expect(named('InferenceTime')).toHaveLength(1);
  expect(named('BatchSize').map((e) => e.BatchSize)).toEqual([2]);
  expect(named('Errors').map((e) => e.errorKind)).toEqual(['Unprocessable']);
  expect(named('Errors')[0]._aws.CloudWatchMetrics[0].Dimensions[0]).toEqual(expect.arrayContaining(['errorKind']));
});

/** EMF lines written to stdout while `work` runs, with metrics on. */
async function emfOf(work: () => Promise<void>): Promise<Emf[]> {
  const lines: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  try {
    await work();
  } finally {
    write.mockRestore();
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  }
  return lines.flatMap((l) => l.split('\n')).filter((l) => l.includes('CloudWatchMetrics')).map((l) => JSON.parse(l) as Emf);
}

test('EMF metrics of S3 batch inference: BatchRows and BatchFailedRows once per chunk done', async () => {
  const s3server = await startS3Server();
  try {
    const s3 = s3server.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'uploads' }));
    const body = `${IRIS_FEATURES.join(',')}\n5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n7.7,3.0,6.1,2.3\n5.0,n/a,1.4,0.2\n6.0,2.2,5.0\n`;
    await s3.send(new PutObjectCommand({ Bucket: 'uploads', Key: 'in/rows.csv', Body: body }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'uploads', Key: 'in/rows.csv' }));
    const modelDir = await trainIrisModel();
    const emf = await emfOf(async () => {
      // Metrics read POWERTOOLS_METRICS_DISABLED when the service is made, as at a Lambda init.
      const service = await serviceFor(modelDir, { type: 'tabular', features: [...IRIS_FEATURES], labels: [...IRIS_LABELS] }, { modelName: 'iris' });
      await createHandler(service, { s3 })(s3Event('uploads', 'in/rows.csv', head.ETag!, head.ContentLength));
    });
    const valuesOf = (name: string) => emf.filter((e) => e._aws.CloudWatchMetrics[0].Metrics.some((m) => m.Name === name)).map((e) => ({ value: e[name], model: e.model, unit: e._aws.CloudWatchMetrics[0].Metrics[0].Unit }));
    expect(valuesOf('BatchRows')).toEqual([{ value: 5, model: 'iris', unit: 'Count' }]);
    expect(valuesOf('BatchFailedRows')).toEqual([{ value: 2, model: 'iris', unit: 'Count' }]);
  } finally {
    await s3server.stop();
  }
}, 60_000);
