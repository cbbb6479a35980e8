// Dynamic batching: when one environment serves several requests at once (Lambda Managed
// Instances, the local server), concurrent predictions for the same model coalesce into
// one batched model call, bounded by a maximum batch size and a maximum wait. Each request
// still gets its own result or its own error: a batch that fails for a reason other than
// capacity is re-run one item at a time, so a bad request never fails its neighbours.
import { performance } from 'node:perf_hooks';
import { ServiceUnavailableError, isOutOfMemory } from './errors';
import type { BackendName, Tf } from './backend';
import type { RuntimeConfig } from './config';
import type { ServableModel } from './model';
import type { Tensor } from '@tensorflow/tfjs';

/** Rows per batched call when batching is on and no size is configured. */
export const BATCH_MAX_SIZE_DEFAULT = 16;
/** Milliseconds a batch waits to fill when batching is on and no wait is configured. */
export const BATCH_MAX_WAIT_MS_DEFAULT = 5;
/**
 * Backends where batching is on by default: one native call spreads over many cores or a
 * GPU. wasm and cpu run one thread: a batch costs about the sum of its images, so batching
 * gained nothing measurable under load (BENCHMARKS.md, "Load (issue 7)": 1.00-1.03x the
 * requests per second), cost the lone request its wait, and grew the wasm heap by the
 * largest batch's activations for good.
 */
export const BATCHING_BACKENDS: readonly BackendName[] = ['tensorflow', 'tensorflow-gpu'];

export interface BatchingOptions {
  /** Most rows in one batched call. 1 turns batching off: every call runs on its own. */
  readonly maxBatchSize: number;
  /**
   * Longest the first item of a batch waits for others, in ms. 0: batch only what is already
   * queued when the batcher runs (items submitted together, or while an asynchronous model
   * call ran; a synchronous backend such as wasm leaves no such moment).
   */
  readonly maxWaitMs: number;
  /** Batches running at once. Default 1: one model call at a time, as one engine runs them. */
  readonly maxConcurrentBatches?: number;
}

export interface ResolvedBatching extends BatchingOptions {
  /** Why these settings, for the init log. */
  readonly reason: string;
}

/** The batching settings for a backend: the configured ones, or the defaults 'auto' stands for. */
export function resolveBatching(config: Pick<RuntimeConfig, 'batchMaxSize' | 'batchMaxWaitMs'>, backend: BackendName): ResolvedBatching {
  const size = config.batchMaxSize ?? 'auto';
  const wait = config.batchMaxWaitMs ?? 'auto';
  const maxWaitMs = wait === 'auto' ? BATCH_MAX_WAIT_MS_DEFAULT : wait;
  if (size !== 'auto') return { maxBatchSize: size, maxWaitMs, reason: size > 1 ? 'configured' : 'turned off by configuration' };
  return BATCHING_BACKENDS.includes(backend)
    ? { maxBatchSize: BATCH_MAX_SIZE_DEFAULT, maxWaitMs, reason: `auto: on for the ${backend} backend` }
    : { maxBatchSize: 1, maxWaitMs, reason: `auto: off for the ${backend} backend (one thread: batches gain little and add wait)` };
}

/** Runs items as one call and returns one result per item, in order; throws if the call fails as a whole. */
export type BatchRunner<I, O> = (items: readonly I[]) => Promise<readonly O[]>;

export interface SubmitOptions {
  /** Items batch only with items of the same key (for tensors: the same non-batch shapes). Default ''. */
  readonly key?: string;
  /** Rows this item adds to a batch. Default 1. An item of maxBatchSize rows or more runs alone. */
  readonly size?: number;
}

interface Entry<I, O> {
  readonly item: I;
  readonly size: number;
  readonly queuedAt: number;
  readonly resolve: (value: O) => void;
  readonly reject: (err: unknown) => void;
}

interface Queue<I, O> {
  readonly key: string;
  readonly entries: Entry<I, O>[];
  rows: number;
  due: boolean;
  timer?: NodeJS.Timeout;
}

/**
 * Coalesces concurrent submissions into batched calls of `run`. A batch runs when it holds
 * maxBatchSize rows, or maxWaitMs after its first item was queued, whichever comes first,
 * and only when fewer than maxConcurrentBatches are running; a batch waiting for its turn
 * keeps taking items up to maxBatchSize. Items run in the order they were submitted. No
 * timer is left when nothing is queued.
 */
export class DynamicBatcher<I, O> {
  private readonly queues = new Map<string, Queue<I, O>>();
  private readonly maxConcurrent: number;
  private running = 0;
  private pumpScheduled = false;

  public constructor(private readonly run: BatchRunner<I, O>, private readonly options: BatchingOptions) {
    const { maxBatchSize, maxWaitMs, maxConcurrentBatches = 1 } = options;
    if (!Number.isSafeInteger(maxBatchSize) || maxBatchSize < 1) throw new Error(`maxBatchSize must be a whole number of at least 1; got ${maxBatchSize}.`);
    if (!Number.isFinite(maxWaitMs) || maxWaitMs < 0) throw new Error(`maxWaitMs must be a number of at least 0; got ${maxWaitMs}.`);
    if (!Number.isSafeInteger(maxConcurrentBatches) || maxConcurrentBatches < 1) throw new Error(`maxConcurrentBatches must be a whole number of at least 1; got ${maxConcurrentBatches}.`);
    this.maxConcurrent = maxConcurrentBatches;
  }

  /** True when submissions can share a call. */
  public get enabled(): boolean {
    return this.options.maxBatchSize > 1;
  }

  /** Items queued and not yet running. */
  public get queued(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.entries.length;
    return n;
  }

  /** Queues one item; resolves with its own result, or rejects with its own error. */
  public submit(item: I, options: SubmitOptions = {}): Promise<O> {
    if (!this.enabled) return this.run([item]).then((results) => only(results));
    const key = options.key ?? '';
    const size = Math.max(1, options.size ?? 1);
    return new Promise<O>((resolve, reject) => {
      let queue = this.queues.get(key);
      if (!queue) {
        queue = { key, entries: [], rows: 0, due: false };
        this.queues.set(key, queue);
      }
      queue.entries.push({ item, size, queuedAt: performance.now(), resolve, reject });
      queue.rows += size;
      if (queue.entries.length === 1) this.arm(queue);
      if (queue.due || queue.rows >= this.options.maxBatchSize) this.schedulePump();
    });
  }

  /** Sets the queue's deadline from its first item: due now, or a timer until then. */
  private arm(queue: Queue<I, O>): void {
    clearTimeout(queue.timer);
    queue.timer = undefined;
    const wait = queue.entries[0].queuedAt + this.options.maxWaitMs - performance.now();
    queue.due = wait <= 0;
    if (queue.due) return;
    queue.timer = setTimeout(() => {
      queue.timer = undefined;
      queue.due = true;
      this.pump();
    }, wait);
  }

  /** Pumps once the current synchronous work is done, so items submitted together batch together. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.maxConcurrent) {
      const queue = this.nextReady();
      if (!queue) return;
      const batch = this.take(queue);
      this.running++;
      void this.execute(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  /** The ready queue (full or due) whose first item has waited longest. */
  private nextReady(): Queue<I, O> | undefined {
    let best: Queue<I, O> | undefined;
    for (const q of this.queues.values()) {
      if (!(q.due || q.rows >= this.options.maxBatchSize)) continue;
      if (!best || q.entries[0].queuedAt < best.entries[0].queuedAt) best = q;
    }
    return best;
  }

  /** Takes items from the front of the queue up to maxBatchSize rows (at least one item). */
  private take(queue: Queue<I, O>): Entry<I, O>[] {
    const batch: Entry<I, O>[] = [];
    let rows = 0;
    while (queue.entries.length > 0 && (batch.length === 0 || rows + queue.entries[0].size <= this.options.maxBatchSize)) {
      const entry = queue.entries.shift()!;
      rows += entry.size;
      batch.push(entry);
    }
    queue.rows -= rows;
    if (queue.entries.length === 0) {
      clearTimeout(queue.timer);
      this.queues.delete(queue.key);
    } else {
      this.arm(queue);
    }
    return batch;
  }

  private async execute(batch: readonly Entry<I, O>[]): Promise<void> {
    try {
      const results = await this.run(batch.map((e) => e.item));
      if (results.length !== batch.length) throw new Error(`The batch runner returned ${results.length} results for ${batch.length} items.`);
      batch.forEach((e, i) => e.resolve(results[i]));
      return;
    } catch (err) {
      // Out of memory or not ready: running the items again, one by one, would only repeat
      // it for each; they all get the 503 with Retry-After.
      if (batch.length === 1 || isCapacityError(err)) {
        for (const e of batch) e.reject(err);
        return;
      }
    }
    // Any other failure may be one item's fault (a client error, or an input that breaks the
    // batched call): each item runs alone, so only the bad one fails.
    for (const e of batch) {
      try {
        e.resolve(only(await this.run([e.item])));
      } catch (err) {
        e.reject(err);
      }
    }
  }
}

/** Out of memory (host, wasm heap or GPU) or not ready: the environment's fault, not the request's. */
export function isCapacityError(err: unknown): boolean {
  return err instanceof ServiceUnavailableError || isOutOfMemory(err);
}

function only<O>(results: readonly O[]): O {
  if (results.length !== 1) throw new Error(`The batch runner returned ${results.length} results for 1 item.`);
  return results[0];
}

type NamedTensors = Readonly<Record<string, Tensor>>;

/** Called once per model call with its duration and rows: the InferenceTime and BatchSize metrics. */
export type ModelCallListener = (ms: number, rows: number) => void;

export interface BatchedModelOptions extends BatchingOptions {
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
export function batchedModel(tf: Tf, model: ServableModel, options: BatchedModelOptions): ServableModel {
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
  const runner: BatchRunner<NamedTensors, Record<string, Tensor>> = async (items) => {
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
        throw new Error(`The model cannot be batched: ${odd}.`);
      }
      const split = splitRows(tf, outputs, counts);
      options.onCall?.(performance.now() - started, total);
      return split;
    } finally {
      tf.dispose([joined, outputs]);
    }
  };
  const batcher = new DynamicBatcher(runner, options);
  return {
    format: model.format,
    inputs: model.inputs,
    outputs: model.outputs,
    run: (inputs) => {
      const shape = unbatchable || options.queueing?.() === false ? undefined : batchShape(model, inputs);
      if (!shape) return timedRun(inputs, rowsOf(inputs));
      return batcher.submit(inputs, shape);
    },
    dispose: () => model.dispose(),
  };
}

/** The batch key and rows of a call's inputs, or undefined when they cannot share a batch. */
function batchShape(model: ServableModel, inputs: NamedTensors): { key: string; size: number } | undefined {
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
