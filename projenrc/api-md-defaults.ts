// After jsii-docgen: API.md documents the props TensorFlowFunctionProps inherits from
// lambda.FunctionOptions with Lambda's defaults. Where TensorFlowFunction sets its own
// (lib/private/function-defaults.ts), replace the "*Default:*" line of that prop's entry.
import * as fs from 'fs';
import * as path from 'path';
import { INHERITED_DEFAULTS } from '../lib/private/function-defaults';

const file = path.join(__dirname, '..', 'API.md');
let text = fs.readFileSync(file, 'utf8');
for (const [prop, value] of Object.entries(INHERITED_DEFAULTS)) {
  const anchor = `id="cdk-serverless-tensorflow.TensorFlowFunctionProps.property.${prop}"></a>`;
  const start = text.indexOf(anchor);
  if (start < 0) throw new Error(`api-md-defaults: API.md has no entry for TensorFlowFunctionProps.${prop}`);
  const end = text.indexOf('\n---\n', start);
  const entry = text.slice(start, end);
  const line = /^- \*Default:\* .*$/m;
  const replaced = line.test(entry)
    ? entry.replace(line, `- *Default:* ${value} (TensorFlowFunction's default)`)
    : entry.replace(/^(- \*Type:\* .*)$/m, `$1\n- *Default:* ${value} (TensorFlowFunction's default)`);
  if (replaced === entry && !entry.includes(value)) throw new Error(`api-md-defaults: no Type or Default line in the entry for TensorFlowFunctionProps.${prop}`);
  text = text.slice(0, start) + replaced + text.slice(end);
}
fs.writeFileSync(file, text);
