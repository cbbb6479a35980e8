// Cold start through the Lambda Runtime API, on Node 22 (issue 11): each run starts the
// real aws-lambda-ric in the Lambda sandbox of the fidelity test (read-only /var/task and
// /opt, writable /tmp; test/support/lambda-sandbox.ts) against the Runtime API peer
// (test/support/lambda-runtime-api.ts), and times, from spawn: the first GET /next (init
// done: the model is loaded and warmed) and the first answer to one API Gateway v1
// POST /classify. Three functions, alternating run by run:
//   baseline   bench/ric-baseline-handler.mjs at /var/task/index.mjs (minimal, hand-written)
//   container  our bundle as the Docker images lay it out (dist/ in /var/task)
//   zip        our bundle as Compute.zip() deploys it (index.mjs + the packaged layer archive)
// The model is the demo model at /opt/model for all three.
//
//   node bench/cold-ric.mjs [--runs N] [--no-write]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { lambdaTools } from '../scripts/lambda-tools.mjs';
import { MODEL_DIR, RUNTIME_DIR, SAMPLES_DIR, apiGatewayV1Event, machineInfo, median, ms, p90, writeSection } from './lib.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, 'no-write': { type: 'boolean' } } });
const RUNS = Number(values.runs);
const started = Date.now();
const tools = lambdaTools();

// The peer and the sandbox are the fidelity test's own TypeScript: bundle them for this script.
const work = mkdtempSync(join(os.tmpdir(), 'bench-cold-ric-'));
const supportFile = join(RUNTIME_DIR, '.bench-support.cjs');
await build({
  stdin: {
    contents: "export * from './test/support/lambda-runtime-api'; export * from './test/support/lambda-sandbox';",
    resolveDir: RUNTIME_DIR, loader: 'ts', sourcefile: 'support.ts',
  },
  bundle: true, platform: 'node', format: 'cjs', outfile: supportFile, packages: 'external', logLevel: 'warning',
});
const { startRuntimeApi, startLambdaProcess } = createRequire(import.meta.url)(supportFile);
rmSync(supportFile);

const layer = join(work, 'layer');
execFileSync('unzip', ['-q', join(RUNTIME_DIR, 'layer', 'linux-x64.zip'), '-d', layer]);
const nodeModules = join(layer, 'nodejs', 'node_modules');
const opt = join(work, 'opt');
cpSync(MODEL_DIR, join(opt, 'model'), { recursive: true });
const zipOpt = join(work, 'zip-opt');
cpSync(join(layer, 'nodejs'), join(zipOpt, 'nodejs'), { recursive: true });
cpSync(MODEL_DIR, join(zipOpt, 'model'), { recursive: true });

function taskRoot(name, files) {
  const dir = join(work, name);
  mkdirSync(dir);
  files(dir);
  return dir;
}
const task = readFileSync(join(MODEL_DIR, 'task.json'), 'utf8');
const ours = { SERVERLESS_TF_MODEL_URI: '/opt/model', SERVERLESS_TF_TASK: task, SERVERLESS_TF_MODEL_NAME: 'demo', SERVERLESS_TF_BACKEND: 'wasm', POWERTOOLS_LOG_LEVEL: 'INFO' };
const sides = {
  baseline: {
    opt,
    handler: 'index.handler',
    env: {},
    taskRoot: taskRoot('baseline', (dir) => {
      cpSync(join(RUNTIME_DIR, 'bench', 'ric-baseline-handler.mjs'), join(dir, 'index.mjs'));
      cpSync(nodeModules, join(dir, 'node_modules'), { recursive: true });
    }),
  },
  container: {
    opt,
    handler: 'dist/handler.handler',
    env: ours,
    taskRoot: taskRoot('container', (dir) => {
      cpSync(join(RUNTIME_DIR, 'dist'), join(dir, 'dist'), { recursive: true });
      cpSync(join(RUNTIME_DIR, 'package.json'), join(dir, 'package.json'));
      cpSync(nodeModules, join(dir, 'node_modules'), { recursive: true });
    }),
  },
  zip: {
    opt: zipOpt,
    handler: 'index.handler',
    env: ours,
    taskRoot: taskRoot('zip', (dir) => writeFileSync(join(dir, 'index.mjs'), "export { handler } from '/opt/nodejs/serverless-tf/handler.mjs';\n")),
  },
};
const image = readFileSync(join(SAMPLES_DIR, 'chelsea.png'));
const event = apiGatewayV1Event({ name: 'chelsea.png', bytes: image, type: 'image/png' });

async function coldRun(name) {
  const side = sides[name];
  const api = await startRuntimeApi();
  const fn = startLambdaProcess({ node: tools.node22, ric: tools.ric, runtime: 'nodejs22.x', taskRoot: side.taskRoot, opt: side.opt, handler: side.handler, runtimeApi: api.address, environment: side.env });
  try {
    const answer = await Promise.race([api.invoke(event, { timeoutMs: 60_000 }), fn.exited.then((c) => { throw new Error(`${name} exited ${c}:\n${fn.output()}`); })]);
    const body = JSON.parse(answer.body.body);
    return { init: api.firstNextAt() - fn.startedAt, answered: api.firstAnswerAt() - fn.startedAt, top1: body.predictions[0].label };
  } finally {
    await fn.stop();
    await api.stop();
  }
}

const names = Object.keys(sides);
for (const name of names) await coldRun(name); // page cache, untimed
const results = Object.fromEntries(names.map((n) => [n, []]));
for (let i = 0; i < RUNS; i++) {
  const order = i % 2 === 0 ? names : [...names].reverse();
  for (const name of order) results[name].push(await coldRun(name));
}
rmSync(work, { recursive: true, force: true });

const info = machineInfo();
const tops = new Set(names.flatMap((n) => results[n].map((r) => r.top1)));
const row = (label, pick) => {
  const base = pick(results.baseline);
  return `| ${label} | ${ms(base)} | ${ms(pick(results.container))} | ${(pick(results.container) / base).toFixed(2)} | ${ms(pick(results.zip))} | ${(pick(results.zip) / base).toFixed(2)} |`;
};
const m = (f) => (rs) => median(rs.map(f));
const q = (f) => (rs) => p90(rs.map(f));
const section = `## Cold start through the Lambda Runtime API (issue 11)

Measured ${info.date} on ${info.cpu} (${info.arch}), ${info.cores} cores, ${info.ramGiB} GiB RAM; ${RUNS} cold starts per function after one untimed run each, alternating the order run by run; bench run took ${Math.round((Date.now() - started) / 1000)} s.

Reproduce from \`runtime/\` with \`node bench/cold-ric.mjs --runs ${RUNS}\` (after \`npx projen runtime:build\`; the first run installs Node 22 and builds aws-lambda-ric into the machine cache, about 70 s).

Each run is a new process: the real \`aws-lambda-ric\` 4.0.2 on Node ${tools.node22.match(/node-([\d.]+)/)?.[1] ?? '22'} in the fidelity test's sandbox (\`/var/task\` and \`/opt\` read-only, a fresh \`/tmp\`), polling a Runtime API peer on loopback; then one API Gateway (v1) \`POST /classify\` of \`chelsea.png\`. Times are from spawning the process: **init** ends at the first \`GET /runtime/invocation/next\` (the handler module is imported: for ours that includes the backend, the model load and the warm-up prediction); **first answer** is the \`POST .../response\` of that event. Baseline: \`bench/ric-baseline-handler.mjs\`, the minimal hand-written function (model loaded at init from \`/opt/model\`, sharp decode, resize, predict, top 5; no validation, logs or metrics). Container: our bundle laid out as the Docker images have it. Zip: the one-line \`index.mjs\` and the packaged layer archive under \`/opt\`, as \`Compute.zip()\` deploys. All on the wasm backend with the demo model at \`/opt/model\`. Every answer's top label: ${[...tops].join(', ')}.

| metric (ms) | baseline | container | ratio | zip | ratio |
| --- | ---: | ---: | ---: | ---: | ---: |
${row('Init done (first /next), median', m((r) => r.init))}
${row('Init done (first /next), p90', q((r) => r.init))}
${row('First answer, median', m((r) => r.answered))}
${row('First answer, p90', q((r) => r.answered))}
${row('First request alone (answer - init), median', m((r) => r.answered - r.init))}
`;
console.log(section);
if (!values['no-write']) console.log(`wrote ${writeSection('## Cold start through the Lambda Runtime API (issue 11)', section)}`);
