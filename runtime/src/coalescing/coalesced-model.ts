// A ServableModel whose calls coalesce (queue.ts): concurrent calls with the same non-batch
// input shapes run as one model call, and each caller gets its own rows back.
import { performance } from 'node:perf_hooks';
import { UnbatchableModelError } from '../errors';
import { CoalescingQueue } from './queue';
import type { Tf } from '../backend';
import type { ServableModel } from '../model';
import type { Tensor } from '@tensorflow/tfjs';
import type { CoalescingOptions, GroupRunner } from './queue';

type NamedTensors = Readonly<Record<string, Tensor>>;

/** Called once per model call with its duration and rows: the InferenceTime and BatchSize metrics. */
export type ModelCallListener = (ms: number, rows: number) => void;

export interface CoalescedModelOptions extends CoalescingOptions {
  readonly onCall?: ModelCallListener;
  /** Told once if the model turns out not to be batch-major; batching then stops for it. */
  readonly onUnbatchable?: (reason: string) => void;
  /** While this answers false, calls run at once, alone (the warm-up prediction: nothing to wait for). Default: always true. */
  readonly queueing?: () => boolean;
}

/**
 * A ServableModel whose run() coalesces concurrent calls with the same non-batch input
 * shapes and dtypes: their inputs are concatenated along axis 0, the model runs once, and
 * each caller gets its own rows of every output (new tensors it owns, as run() promises).
 * Inputs that cannot batch (no free batch dimension, scalars, strings, inputs that
 * disagree on the batch size) run on their own, as do all calls once a batched call has
 * shown outputs that are not batch-major.
 */
export function coalescedModel(tf: Tf, model: ServableModel, options: CoalescedModelOptions): ServableModel {
  // Outputs whose signature fixes the first dimension are not per-row: never batch those.
  let unbatchable = !model.outputs.every((s) => !s.shape || (s.shape.length > 0 && s.shape[0] === null));
  const stopBatching = (reason: string) => {
    if (unbatchable) return;
    unbatchable = true;
    options.onUnbatchable?.(reason);
  };
  /** Every call alone checks its outputs too, so the warm-up call (one row) finds a model that is not batch-major. */
  const timedRun = async (inputs: NamedTensors, rows: number) => {
    const started = performance.now();
    const outputs = await model.run(inputs);
    options.onCall?.(performance.now() - started, rows);
    const odd = notBatchMajor(outputs, rows);
    if (odd) stopBatching(odd);
    return outputs;
  };
  const runner: GroupRunner<NamedTensors, Record<string, Tensor>> = async (items) => {
    if (items.length === 1) return [await timedRun(items[0], rowsOf(items[0]))];
    const started = performance.now();
    const counts = items.map(rowsOf);
    const total = counts.reduce((a, b) => a + b, 0);
    const joined = tf.tidy(() => Object.fromEntries(Object.keys(items[0]).map((name) => [name, tf.concat(items.map((x) => x[name]), 0)])));
    let outputs: Record<string, Tensor> = {};
    try {
      outputs = await model.run(joined);
      const odd = notBatchMajor(outputs, total);
      if (odd) {
        stopBatching(odd);
        throw new UnbatchableModelError(`The model cannot be batched: ${odd}.`);
      }
      const split = splitRows(tf, outputs, counts);
      options.onCall?.(performance.now() - started, total);
      return split;
    } finally {
      tf.dispose([joined, outputs]);
    }
  };
  const queue = new CoalescingQueue(runner, options);
  return {
    format: model.format,
    inputs: model.inputs,
    outputs: model.outputs,
    run: (inputs) => {
      const shape = unbatchable || options.queueing?.() === false ? undefined : coalesceKey(model, inputs);
      if (!shape) return timedRun(inputs, rowsOf(inputs));
      return queue.submit(inputs, shape);
    },
    dispose: () => model.dispose(),
  };
}

/** The batch key and rows of a call's inputs, or undefined when they cannot share a batch. */
function coalesceKey(model: ServableModel, inputs: NamedTensors): { key: string; size: number } | undefined {
  const names = Object.keys(inputs).sort();
  if (names.length === 0 || names.length !== model.inputs.length) return undefined;
  let rows: number | undefined;
  const parts: string[] = [];
  for (const name of names) {
    const spec = model.inputs.find((s) => s.name === name);
    const t = inputs[name];
    if (!spec || (spec.shape && spec.shape[0] !== null) || t.dtype === 'string' || t.rank === 0) return undefined;
    if (rows !== undefined && t.shape[0] !== rows) return undefined;
    rows = t.shape[0];
    parts.push(`${name}:${t.dtype}[${t.shape.slice(1).join(',')}]`);
  }
  return rows && rows > 0 ? { key: parts.join(' '), size: rows } : undefined;
}

/** Why the outputs are not one row per input row, or undefined when they are. */
function notBatchMajor(outputs: Readonly<Record<string, Tensor>>, rows: number): string | undefined {
  const odd = Object.entries(outputs).find(([, t]) => t.rank === 0 || t.shape[0] !== rows);
  return odd && `output '${odd[0]}' has shape [${odd[1].shape.join(',')}] for ${rows} input row${rows === 1 ? '' : 's'}; its first dimension is not the batch`;
}

function rowsOf(inputs: NamedTensors): number {
  const first = Object.values(inputs)[0];
  return first && first.rank > 0 ? first.shape[0] : 1;
}

/** Each caller's rows of every output, as new tensors. */
function splitRows(tf: Tf, outputs: Record<string, Tensor>, counts: readonly number[]): Record<string, Tensor>[] {
  const parts: Record<string, Tensor>[] = [];
  try {
    let offset = 0;
    for (const n of counts) {
      const part: Record<string, Tensor> = {};
      parts.push(part);
      for (const [name, t] of Object.entries(outputs)) {
        part[name] = tf.slice(t, [offset, ...t.shape.slice(1).map(() => 0)], [n, ...t.shape.slice(1).map(() => -1)]);
      }
      offset += n;
    }
    return parts;
  } catch (err) {
    for (const part of parts) tf.dispose(part);
    throw err;
  }
}
