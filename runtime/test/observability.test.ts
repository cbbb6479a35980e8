// Metrics a dashboard relies on, as CloudWatch embedded-metric JSON on stdout (through
// Powertools): model load time at init, cold start once, inference time and batch size
// per prediction, errors by kind.
import { linearGraphModel, serviceFor } from './support/models';
import { createHandler } from '../src/handler';
import { apiGatewayV1Event } from './support/events';

interface Emf { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] }; [k: string]: unknown }

test('EMF metrics: ModelLoadTime, ColdStart once, InferenceTime and BatchSize, Errors by errorKind', async () => {
  const lines: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  try {
    const { dir } = await linearGraphModel();
    const service = await serviceFor(dir, { type: 'tensor' }, { modelName: 'linear' });
    const handler = createHandler(service);
    await handler(apiGatewayV1Event({ path: '/v1/models/linear:predict', body: JSON.stringify({ instances: [[1, 2, 3], [4, 5, 6]] }), contentType: 'application/json' }));
    await handler(apiGatewayV1Event({ path: '/v1/models/linear:predict', body: '{"instances": [[1]]}', contentType: 'application/json' }));
  } finally {
    write.mockRestore();
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  }
  const emf = lines.flatMap((l) => l.split('\n')).filter((l) => l.includes('CloudWatchMetrics')).map((l) => JSON.parse(l) as Emf);
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
