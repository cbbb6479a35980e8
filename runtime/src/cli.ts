// `serverless-tf`: serve a model over HTTP on this machine through the same code path
// as the Lambda handler, or run the demo (nsfwjs's pretrained MobileNetV2 content
// classifier on sample photos).
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { configWithDefaults, parseTaskConfig, coalesceSetting, modelFile, modelName, oneOf, positiveInt, BACKEND_SETTINGS, COALESCE_MAX_ROWS_LIMIT, COALESCE_MAX_WAIT_MS_LIMIT, MODEL_FORMATS } from './config';
import { UsageError } from './errors';
import { InferenceService } from './service';
import { describeCoalescing } from './coalescing/queue';
import { startLocalServer } from './local-server';
import { createObservability } from './observability';
import type { RuntimeConfig } from './config';

const DEMO_MODEL = fileURLToPath(new URL('../models/mobilenet_v2/', import.meta.url));
const SAMPLES = fileURLToPath(new URL('../samples/', import.meta.url));
const IMAGE_FILE = /\.(jpe?g|png|webp|gif)$/i;

const USAGE = `Usage:
  serverless-tf serve --model DIR|DIR/MODEL.json|s3://bucket/prefix/ --task TASK.json|'{"type":...}' [--name NAME] [--port 8080] [--host 127.0.0.1]
                      [--backend ${BACKEND_SETTINGS.join('|')}] [--format ${MODEL_FORMATS.join('|')}] [--max-body-bytes N] [--max-response-bytes N]
                      [--coalesce-max-rows auto|1-${COALESCE_MAX_ROWS_LIMIT}] [--coalesce-max-wait-ms auto|0-${COALESCE_MAX_WAIT_MS_LIMIT}]
  serverless-tf serve --demo [--port 8080]      serve the demo model (nsfwjs's MobileNetV2 content classifier) as "demo"

  Request coalescing (TF Serving's dynamic batching: concurrent requests run as one model
  call): auto is on for the native backends (16 rows, 5 ms) and off on wasm and cpu;
  --coalesce-max-rows 1 turns it off. (--batch-max-size and --batch-max-wait-ms, the old
  names, still work.)
  serverless-tf demo [--serve] [--port 8080]    classify the sample photographs (and keep serving)
`;

const OPTIONS = {
  model: { type: 'string' }, task: { type: 'string' }, name: { type: 'string' },
  port: { type: 'string' }, host: { type: 'string' }, backend: { type: 'string' },
  format: { type: 'string' }, 'max-body-bytes': { type: 'string' }, 'max-response-bytes': { type: 'string' },
  'coalesce-max-rows': { type: 'string' }, 'coalesce-max-wait-ms': { type: 'string' },
  'batch-max-size': { type: 'string' }, 'batch-max-wait-ms': { type: 'string' },
  demo: { type: 'boolean' }, serve: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return;
  }
  // Locally, metrics have no CloudWatch to go to; logs stay on for `serve`.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  switch (command) {
    case 'serve':
      return serve(values.demo ? await demoConfig(values) : await userConfig(values), values);
    case 'demo':
      process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
      return demo(values);
    default:
      throw new UsageError(`Unknown command "${command}".`);
  }
}


async function userConfig(flags: Flags): Promise<RuntimeConfig> {
  if (!flags.model || !flags.task) throw new UsageError('serve needs --model and --task (or --demo).');
  const taskText = flags.task.trim().startsWith('{') ? flags.task : await readFile(flags.task, 'utf8');
  return configWithDefaults({
    ...modelLocation(flags.model),
    task: parseTaskConfig(taskText, flags.task.trim().startsWith('{') ? '--task' : flags.task),
    ...(flags.name !== undefined ? { modelName: modelName(flags.name, '--name') } : {}),
    ...(flags.format !== undefined ? { modelFormat: oneOf('--format', flags.format, MODEL_FORMATS) } : {}),
    ...(flags['max-body-bytes'] !== undefined ? { maxBodyBytes: positiveInt('--max-body-bytes', flags['max-body-bytes'], 0) } : {}),
    ...(flags['max-response-bytes'] !== undefined ? { maxResponseBytes: positiveInt('--max-response-bytes', flags['max-response-bytes'], 0) } : {}),
    ...runtimeFlags(flags),
  });
}

/**
 * --model: a folder or S3 prefix, or the path of a TF.js model file of another name than
 * model.json (human-models' `blazeface.json`): its folder, and the file as SERVERLESS_TF_MODEL_FILE does.
 */
function modelLocation(model: string): Pick<RuntimeConfig, 'modelUri' | 'modelFile'> {
  const file = /^(.*[\\/])?([^\\/]+\.json)$/i.exec(model);
  if (!file) return { modelUri: model };
  return { modelUri: file[1] ?? './', modelFile: modelFile(file[2], '--model') };
}

/** The flags `serve --demo` takes too, checked as the function's environment is. */
function runtimeFlags(flags: Flags): Partial<RuntimeConfig> {
  return {
    ...(flags.backend !== undefined ? { backend: oneOf('--backend', flags.backend, BACKEND_SETTINGS) } : {}),
    coalesceMaxRows: coalesceFlag(flags, 'coalesce-max-rows', 'batch-max-size', 1, COALESCE_MAX_ROWS_LIMIT),
    coalesceMaxWaitMs: coalesceFlag(flags, 'coalesce-max-wait-ms', 'batch-max-wait-ms', 0, COALESCE_MAX_WAIT_MS_LIMIT),
  };
}

/** A coalescing flag, or its old name with a warning on stderr. */
function coalesceFlag(flags: Flags, name: 'coalesce-max-rows' | 'coalesce-max-wait-ms', old: 'batch-max-size' | 'batch-max-wait-ms', min: number, max: number) {
  if (flags[name] === undefined && flags[old] !== undefined) {
    process.stderr.write(`--${old} is deprecated: use --${name} (same values).\n`);
    return coalesceSetting(`--${old}`, flags[old], min, max);
  }
  return coalesceSetting(`--${name}`, flags[name], min, max);
}

async function demoConfig(flags: Flags): Promise<RuntimeConfig> {
  if (!existsSync(join(DEMO_MODEL, 'model.json'))) {
    throw new UsageError(`The demo model is missing (${DEMO_MODEL}). In a checkout of cdk-serverless-tensorflow, run \`npx projen runtime:build\` (or \`npm run demo-model\` in runtime/); the installed package carries it (reinstall it if the folder was removed).`);
  }
  const task = parseTaskConfig(await readFile(join(DEMO_MODEL, 'task.json'), 'utf8'), join(DEMO_MODEL, 'task.json'));
  return configWithDefaults({ modelUri: DEMO_MODEL, task, modelName: 'demo', ...runtimeFlags(flags) });
}

async function serve(config: RuntimeConfig, flags: Flags): Promise<void> {
  const service = await InferenceService.create(config, createObservability(config.modelName));
  const server = await startLocalServer(service, { port: Number(flags.port ?? 8080), host: flags.host ?? '127.0.0.1' });
  const info = service.info;
  process.stdout.write(`Serving model "${info.modelName}" (${info.format}, ${info.task}) on backend ${info.backend.name} at ${server.url}\n`
    + `  loaded and warmed in ${info.loadMs} ms; request coalescing ${describeCoalescing(service.coalescing)}\n`
    + `  try: curl -s ${server.url}/v1/models/${info.modelName}\n`
    + (info.task === 'image-classification' ? `       curl -s --data-binary @photo.jpg -H 'Content-Type: image/jpeg' ${server.url}/classify\n` : '')
    + 'Ctrl-C stops it.\n');
  const stop = () => {
    void server.close().then(() => process.exit(0));
  };
  // The wasm backend cannot be started again inside this process: exit, for a process
  // manager (or the user) to start a fresh one.
  void server.backendFailed.then((fault) => {
    process.stderr.write(`serverless-tf: the TensorFlow backend failed (${fault.error.name}: ${fault.error.message}) and cannot serve the model any more; `
      + 'the requests in flight were answered 503 and the server stopped. Exiting with status 1: start it again '
      + '(a process manager such as systemd or a Docker restart policy does this), and send fewer or smaller inputs per request.\n');
    process.exit(1);
  });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function demo(flags: Flags): Promise<void> {
  const config = await demoConfig(flags);
  const service = await InferenceService.create(config, createObservability(config.modelName));
  const info = service.info;
  process.stdout.write(`Demo: nsfwjs's content classifier, a MobileNetV2 pretrained to tell Drawing, Hentai, Neutral, Porn and Sexy\n`
    + `images apart (shipped by the nsfwjs npm package, MIT), on backend ${info.backend.name}; loaded and warmed in ${info.loadMs} ms\n\n`);
  const files = (await readdir(SAMPLES)).filter((f) => IMAGE_FILE.test(f)).sort();
  for (const file of files) {
    const bytes = await readFile(join(SAMPLES, file));
    const started = performance.now();
    const [result] = await service.classify([bytes]);
    const ms = performance.now() - started;
    const text = result instanceof Error
      ? `error: ${result.message}`
      : result.slice(0, 3).map((p) => `${p.label} ${p.score.toFixed(3)}`).join('   ');
    process.stdout.write(`${basename(file).padEnd(24)} ${text.padEnd(56)} ${ms.toFixed(0).padStart(4)} ms\n`);
  }
  process.stdout.write(`\nPhotographs: runtime/samples (CC0 or public domain; see runtime/samples/README.md).\n`);
  if (flags.serve) {
    await serve({ ...config }, flags);
  } else {
    process.stdout.write('Add --serve to keep serving it over HTTP (serverless-tf demo --serve).\n');
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`serverless-tf: ${err.message}\n`);
  if (err instanceof UsageError) process.stderr.write(USAGE);
  process.exitCode = 1;
});
