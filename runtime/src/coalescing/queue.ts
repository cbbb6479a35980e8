// Request coalescing (what TF Serving calls dynamic batching; "group" in this project is S3
// group inference): when one environment serves several requests at once (Lambda Managed
// Instances, the local server), concurrent predictions for the same model coalesce into one
// model call, bounded by a number of rows and a wait. Each request still gets its own result
// or its own error: a group that fails because of its input is re-run one item at a time, so
// a bad request never fails its neighbours (errors.ts isClientError, the one whose-fault rule).
import { performance } from 'node:perf_hooks';
import { UnbatchableModelError, isClientError } from '../errors';
import type { BackendName } from '../backend';
import type { RuntimeConfig } from '../config';

/** Rows per coalesced call when coalescing is on and no number is configured. */
export const COALESCE_MAX_ROWS_DEFAULT = 16;
/** Milliseconds a group waits to fill when coalescing is on and no wait is configured. */
export const COALESCE_MAX_WAIT_MS_DEFAULT = 5;
/**
 * Backends where coalescing is on by default: one native call spreads over many cores or a
 * GPU. wasm and cpu run one thread: a group costs about the sum of its images, so coalescing
 * gained nothing measurable under load (BENCHMARKS.md, "Load (issue 7)": 1.00-1.03x the
 * requests per second), cost the lone request its wait, and grew the wasm heap by the
 * largest group's activations for good.
 */
export const COALESCING_BACKENDS: readonly BackendName[] = ['tensorflow', 'tensorflow-gpu'];

export interface CoalescingOptions {
  /** Most rows in one coalesced call. 1 turns coalescing off: every call runs on its own. */
  readonly maxRows: number;
  /**
   * Longest the first item of a group waits for others, in ms. 0: coalesce only what is already
   * queued when the queue runs (items submitted together, or while an asynchronous model
   * call ran; a synchronous backend such as wasm leaves no such moment).
   */
  readonly maxWaitMs: number;
  /** Coalesced calls running at once. Default 1: one model call at a time, as one engine runs them. */
  readonly maxConcurrentCalls?: number;
}

export interface ResolvedCoalescing extends CoalescingOptions {
  /** Why these settings, for the init log. */
  readonly reason: string;
}

/** The coalescing settings for a backend: the configured ones, or the defaults 'auto' stands for. */
export function resolveCoalescing(config: Pick<RuntimeConfig, 'coalesceMaxRows' | 'coalesceMaxWaitMs'>, backend: BackendName): ResolvedCoalescing {
  const size = config.coalesceMaxRows ?? 'auto';
  const wait = config.coalesceMaxWaitMs ?? 'auto';
  const maxWaitMs = wait === 'auto' ? COALESCE_MAX_WAIT_MS_DEFAULT : wait;
  if (size !== 'auto') return { maxRows: size, maxWaitMs, reason: size > 1 ? 'configured' : 'turned off by configuration' };
  return COALESCING_BACKENDS.includes(backend)
    ? { maxRows: COALESCE_MAX_ROWS_DEFAULT, maxWaitMs, reason: `auto: on for the ${backend} backend` }
    : { maxRows: 1, maxWaitMs, reason: `auto: off for the ${backend} backend (one thread: groups gain little and add wait)` };
}

/** The settings in words, for the init log and `serverless-tf serve`. */
export function describeCoalescing({ maxRows, maxWaitMs, reason }: ResolvedCoalescing): string {
  return maxRows > 1 ? `up to ${maxRows} rows, ${maxWaitMs} ms wait (${reason})` : `off (${reason})`;
}

/** Runs items as one call and returns one result per item, in order; throws if the call fails as a whole. */
export type GroupRunner<I, O> = (items: readonly I[]) => Promise<readonly O[]>;

export interface SubmitOptions {
  /** Items share a call only with items of the same key (for tensors: the same non-group shapes). Default ''. */
  readonly key?: string;
  /** Rows this item adds to a group. Default 1. An item of maxRows rows or more runs alone. */
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
 * Coalesces concurrent submissions into coalesced calls of `run`. A group runs when it holds
 * maxRows rows, or maxWaitMs after its first item was queued, whichever comes first,
 * and only when fewer than maxConcurrentCalls are running; a group waiting for its turn
 * keeps taking items up to maxRows. Items run in the order they were submitted. No
 * timer is left when nothing is queued.
 */
export class CoalescingQueue<I, O> {
  private readonly queues = new Map<string, Queue<I, O>>();
  private readonly maxConcurrent: number;
  private running = 0;
  private pumpScheduled = false;

  public constructor(private readonly run: GroupRunner<I, O>, private readonly options: CoalescingOptions) {
    const { maxRows, maxWaitMs, maxConcurrentCalls = 1 } = options;
    if (!Number.isSafeInteger(maxRows) || maxRows < 1) throw new Error(`maxRows must be a whole number of at least 1; got ${maxRows}.`);
    if (!Number.isFinite(maxWaitMs) || maxWaitMs < 0) throw new Error(`maxWaitMs must be a number of at least 0; got ${maxWaitMs}.`);
    if (!Number.isSafeInteger(maxConcurrentCalls) || maxConcurrentCalls < 1) throw new Error(`maxConcurrentCalls must be a whole number of at least 1; got ${maxConcurrentCalls}.`);
    this.maxConcurrent = maxConcurrentCalls;
  }

  /** True when submissions can share a call. */
  public get enabled(): boolean {
    return this.options.maxRows > 1;
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
      if (queue.due || queue.rows >= this.options.maxRows) this.schedulePump();
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

  /** Pumps once the current synchronous work is done, so items submitted together group together. */
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
      const group = this.take(queue);
      this.running++;
      void this.execute(group).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  /** The ready queue (full or due) whose first item has waited longest. */
  private nextReady(): Queue<I, O> | undefined {
    let best: Queue<I, O> | undefined;
    for (const q of this.queues.values()) {
      if (!(q.due || q.rows >= this.options.maxRows)) continue;
      if (!best || q.entries[0].queuedAt < best.entries[0].queuedAt) best = q;
    }
    return best;
  }

  /** Takes items from the front of the queue up to maxRows rows (at least one item). */
  private take(queue: Queue<I, O>): Entry<I, O>[] {
    const group: Entry<I, O>[] = [];
    let rows = 0;
    while (queue.entries.length > 0 && (group.length === 0 || rows + queue.entries[0].size <= this.options.maxRows)) {
      const entry = queue.entries.shift()!;
      rows += entry.size;
      group.push(entry);
    }
    queue.rows -= rows;
    if (queue.entries.length === 0) {
      clearTimeout(queue.timer);
      this.queues.delete(queue.key);
    } else {
      this.arm(queue);
    }
    return group;
  }

  private async execute(group: readonly Entry<I, O>[]): Promise<void> {
    try {
      const results = await this.run(group.map((e) => e.item));
      if (results.length !== group.length) throw new Error(`The runner returned ${results.length} results for ${group.length} items.`);
      group.forEach((e, i) => e.resolve(results[i]));
      return;
    } catch (err) {
      // The environment's fault (out of memory, not ready, an internal error): running the
      // items again, one by one, would only repeat it for each, so they all get it. The
      // input's fault, or a model that turned out not to coalesce: each item runs alone.
      if (group.length === 1 || !(isClientError(err) || err instanceof UnbatchableModelError)) {
        for (const e of group) e.reject(err);
        return;
      }
    }
    for (const e of group) {
      try {
        e.resolve(only(await this.run([e.item])));
      } catch (err) {
        e.reject(err);
      }
    }
  }
}

function only<O>(results: readonly O[]): O {
  if (results.length !== 1) throw new Error(`The runner returned ${results.length} results for 1 item.`);
  return results[0];
}
