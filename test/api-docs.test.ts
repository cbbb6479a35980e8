// API.md documents the defaults TensorFlowFunction sets for props it inherits from
// lambda.FunctionOptions, not Lambda's own (jsii cannot redeclare them; projenrc/api-md-defaults.ts
// writes them after jsii-docgen).
import * as fs from 'fs';
import * as path from 'path';
import { INHERITED_DEFAULTS } from '../lib/private/function-defaults';

const api = fs.readFileSync(path.join(__dirname, '..', 'API.md'), 'utf8');

function entry(prop: string): string {
  const start = api.indexOf(`id="cdk-serverless-tensorflow.TensorFlowFunctionProps.property.${prop}"></a>`);
  expect(start).toBeGreaterThan(0);
  return api.slice(start, api.indexOf('\n---\n', start));
}

test.each(Object.entries(INHERITED_DEFAULTS))('TensorFlowFunctionProps.%s shows our default', (prop, value) => {
  const defaults = entry(prop).split('\n').filter((l) => l.startsWith('- *Default:*'));
  expect(defaults).toEqual([`- *Default:* ${value} (TensorFlowFunction's default)`]);
});

test('memorySize, timeout and tracing no longer show Lambda\'s 128 MiB, 3 seconds and disabled tracing', () => {
  expect(entry('memorySize')).not.toMatch(/\*Default:\* 128$/m);
  expect(entry('timeout')).not.toMatch(/\*Default:\* Duration\.seconds\(3\)$/m);
  expect(entry('tracing')).not.toMatch(/\*Default:\* Tracing\.Disabled$/m);
});
