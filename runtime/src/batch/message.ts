// The queue message that carries one chunk of a large batch input to a worker invocation.
// It names the object (bucket, key, ETag), the plan and the byte range; the worker reads
// the rest (format, CSV header) from the plan's manifest.
import { BadRequestError } from '../errors';
import { isObject } from '../guards';

export const CHUNK_MESSAGE_TYPE = 'serverless-tf.batch-chunk';

export interface ChunkMessage {
  readonly type: typeof CHUNK_MESSAGE_TYPE;
  readonly version: 1;
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly plan: string;
  readonly index: number;
  readonly chunks: number;
  /** The chunk owns the lines that start in [start, end) (byte offsets in the object). */
  readonly start: number;
  readonly end: number;
}

/** True for a message body of our chunk type (checked in full by parseChunkMessage). */
export function isChunkMessage(body: unknown): boolean {
  return isObject(body) && body.type === CHUNK_MESSAGE_TYPE;
}

export function parseChunkMessage(body: unknown): ChunkMessage {
  if (!isObject(body) || body.type !== CHUNK_MESSAGE_TYPE) throw new BadRequestError(`Not a ${CHUNK_MESSAGE_TYPE} message.`);
  const strings = ['bucket', 'key', 'etag', 'plan'] as const;
  const counts = ['index', 'chunks', 'start', 'end'] as const;
  const bad = [
    ...strings.filter((f) => typeof body[f] !== 'string' || body[f] === ''),
    ...counts.filter((f) => !Number.isSafeInteger(body[f]) || (body[f] as number) < 0),
  ];
  if (bad.length || (body.index as number) >= (body.chunks as number) || (body.end as number) <= (body.start as number)) {
    throw new BadRequestError(`The ${CHUNK_MESSAGE_TYPE} message is malformed${bad.length ? ` (${bad.join(', ')})` : ' (index must be below chunks, end above start)'}.`);
  }
  return body as unknown as ChunkMessage;
}
