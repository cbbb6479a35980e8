// Completion of a batch input: each chunk writes a done marker after its two files; the
// chunk whose marker makes the count reach the plan's chunk count writes _SUCCESS.json
// with the totals. S3 lists what was written before (strong read-after-write), so of two
// chunks that finish at once at least the later one sees both markers; both may write
// _SUCCESS.json, with the same bytes, so that is harmless.
import { getJson, listKeys, mapLimit, putJson } from './s3-io';
import { cleanEtag } from './layout';
import type { BatchContext } from './context';
import type { BatchSuccess, ChunkDone, InputFormat } from './layout';

/** Done markers read at once when totals are summed. */
const MARKER_READS = 16;

export interface PlanRef {
  readonly plan: string;
  readonly chunks: number;
  readonly format: InputFormat;
  readonly etag?: string;
}

/**
 * Writes the chunk's done marker, then publishes its rows and failed rows (BatchRows,
 * BatchFailedRows) for the failed-row alarm. A chunk delivered again after it was done
 * counts again: the metrics count rows processed, not distinct rows.
 */
export async function markDone(ctx: BatchContext, plan: string, done: ChunkDone): Promise<void> {
  const { chunk, start, end, rows, failed, output, errors } = done;
  await putJson(ctx.s3, ctx.layout.bucket, ctx.layout.done(plan, chunk), { chunk, start, end, rows, failed, output, errors });
  ctx.service.obs.batchChunk(rows, failed);
}

/**
 * Writes _SUCCESS.json when every chunk of the plan is done and returns it; undefined while
 * some are not. `known` are markers the caller holds (all of them when one invocation ran
 * every chunk), so it need not list or read them back.
 */
export async function completeIfAllDone(ctx: BatchContext, plan: PlanRef, known: readonly ChunkDone[] = []): Promise<BatchSuccess | undefined> {
  let markers: readonly ChunkDone[] = known;
  if (known.length < plan.chunks) {
    const { s3, layout } = ctx;
    const keys = await listKeys(s3, layout.bucket, layout.donePrefix(plan.plan));
    if (keys.length < plan.chunks) return undefined;
    markers = await mapLimit(keys, MARKER_READS, (key) => getJson<ChunkDone>(s3, layout.bucket, key));
  }
  const sorted = [...markers].sort((a, b) => a.chunk - b.chunk);
  const success: BatchSuccess = {
    input: ctx.input,
    etag: cleanEtag(plan.etag),
    plan: plan.plan,
    format: plan.format,
    chunks: plan.chunks,
    rows: sorted.reduce((n, m) => n + m.rows, 0),
    failed: sorted.reduce((n, m) => n + m.failed, 0),
    bucket: ctx.layout.bucket,
    outputs: sorted.map((m) => m.output),
    errors: sorted.map((m) => m.errors),
  };
  await putJson(ctx.s3, ctx.layout.bucket, ctx.layout.success, success);
  return success;
}
