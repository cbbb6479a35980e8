// One SQS client per process, loaded on first use (only the planner of a large batch input
// sends messages). The SDK reads its region and credentials from the environment, and an
// SQS-compatible endpoint from AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL.
import type { SQSClient } from '@aws-sdk/client-sqs';

/** SendMessageBatch takes at most 10 entries. */
export const MAX_BATCH_ENTRIES = 10;

/** Attempts for entries that SQS reports as failed without the sender at fault. */
const ENTRY_ATTEMPTS = 3;

/** SendMessageBatch calls in flight at once. */
const CONCURRENT_SENDS = 4;

let client: Promise<SQSClient> | undefined;

export function sqsClient(): Promise<SQSClient> {
  client ??= import('@aws-sdk/client-sqs').then(({ SQSClient: Client }) => new Client({}));
  return client;
}

/** Sends every body to the queue, 10 per call; throws if some cannot be sent. */
export async function sendMessages(queueUrl: string, bodies: readonly string[]): Promise<void> {
  const { SendMessageBatchCommand } = await import('@aws-sdk/client-sqs');
  const sqs = await sqsClient();
  const batches: { Id: string; MessageBody: string }[][] = [];
  for (let i = 0; i < bodies.length; i += MAX_BATCH_ENTRIES) {
    batches.push(bodies.slice(i, i + MAX_BATCH_ENTRIES).map((body, j) => ({ Id: String(i + j), MessageBody: body })));
  }
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let entries = batches[next++];
      for (let attempt = 1; entries.length; attempt++) {
        const res = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
        const failed = res.Failed ?? [];
        if (failed.length === 0) break;
        if (attempt >= ENTRY_ATTEMPTS || failed.some((f) => f.SenderFault)) {
          throw new Error(`SQS did not accept ${failed.length} chunk message(s): ${failed.map((f) => `${f.Code}: ${f.Message}`).join('; ')}`);
        }
        const ids = new Set(failed.map((f) => f.Id));
        entries = entries.filter((e) => ids.has(e.Id));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_SENDS, batches.length) }, worker));
}
