// A real SQS protocol peer for tests: a minimal Amazon SQS server on loopback speaking the
// JSON protocol that @aws-sdk/client-sqs v3 uses (AwsJson1_0: POST /, X-Amz-Target
// "AmazonSQS.<Operation>", application/x-amz-json-1.0 bodies, query-compatible error codes),
// with visibility timeouts, redelivery and ApproximateReceiveCount. Beside it, a small
// event source mapping: it receives messages as Lambda's poller does, invokes a handler with
// a real SQS event, deletes the messages not in batchItemFailures, and leaves the failed
// ones to reappear when their visibility timeout ends.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { AddressInfo } from 'node:net';
import type { SQSEvent, SQSRecord } from 'aws-lambda';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const MAX_BATCH = 10;

interface StoredMessage {
  readonly id: string;
  readonly body: string;
  readonly md5: string;
  readonly sentAt: number;
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
  receiptHandle?: string;
}

interface Queue {
  readonly name: string;
  readonly url: string;
  readonly visibilityTimeout: number;
  messages: StoredMessage[];
}

class SqsError extends Error {
  public constructor(public readonly type: string, public readonly queryCode: string, message: string, public readonly status = 400) {
    super(message);
  }
}

export interface SqsTestServer {
  readonly endpoint: string;
  /** Messages sent so far, per queue name (a test's view of what the runtime sent). */
  sent(queueName: string): readonly string[];
  /** Visible plus in-flight messages of a queue. */
  depth(queueName: string): number;
  /** A client for this server (dummy credentials). */
  client(): SQSClient;
  stop(): Promise<void>;
}

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

export async function startSqsServer(): Promise<SqsTestServer> {
  const queues = new Map<string, Queue>();
  const sentBodies = new Map<string, string[]>();
  let endpoint = '';

  const queueOf = (url: unknown): Queue => {
    const name = typeof url === 'string' ? url.slice(url.lastIndexOf('/') + 1) : '';
    const q = queues.get(name);
    if (!q) throw new SqsError('QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'The specified queue does not exist.');
    return q;
  };
  const enqueue = (q: Queue, body: unknown, delaySeconds = 0) => {
    if (typeof body !== 'string' || body.length === 0) throw new SqsError('InvalidParameterValue', 'InvalidParameterValue', 'MessageBody must be a non-empty string.');
    const now = Date.now();
    const m: StoredMessage = { id: randomUUID(), body, md5: md5(body), sentAt: now, visibleAt: now + delaySeconds * 1000, receiveCount: 0 };
    q.messages.push(m);
    sentBodies.get(q.name)!.push(body);
    return m;
  };
  const byHandle = (q: Queue, handle: unknown): StoredMessage => {
    const m = q.messages.find((x) => x.receiptHandle !== undefined && x.receiptHandle === handle);
    if (!m) throw new SqsError('ReceiptHandleIsInvalid', 'ReceiptHandleIsInvalid', `The receipt handle "${String(handle)}" is not valid.`);
    return m;
  };
  const receive = (q: Queue, max: number, visibility: number) => {
    const now = Date.now();
    const out = [];
    for (const m of q.messages) {
      if (out.length >= max) break;
      if (m.visibleAt > now) continue;
      m.receiveCount++;
      m.firstReceivedAt ??= now;
      m.receiptHandle = randomBytes(24).toString('base64');
      m.visibleAt = now + visibility * 1000;
      out.push({
        MessageId: m.id, ReceiptHandle: m.receiptHandle, MD5OfBody: m.md5, Body: m.body,
        Attributes: { ApproximateReceiveCount: String(m.receiveCount), SentTimestamp: String(m.sentAt), ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt), SenderId: 'AIDAEXAMPLE' },
      });
    }
    return out;
  };

  const operations: Record<string, (input: Record<string, unknown>) => Promise<unknown> | unknown> = {
    CreateQueue: (input) => {
      const name = String(input.QueueName ?? '');
      if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw new SqsError('InvalidParameterValue', 'InvalidParameterValue', `Invalid queue name "${name}".`);
      const attributes = (input.Attributes ?? {}) as Record<string, string>;
      if (!queues.has(name)) {
        queues.set(name, { name, url: `${endpoint}/${ACCOUNT}/${name}`, visibilityTimeout: Number(attributes.VisibilityTimeout ?? 30), messages: [] });
        sentBodies.set(name, []);
      }
      return { QueueUrl: queues.get(name)!.url };
    },
    GetQueueUrl: (input) => ({ QueueUrl: queueOf(`/${String(input.QueueName)}`).url }),
    GetQueueAttributes: (input) => {
      const q = queueOf(input.QueueUrl);
      const now = Date.now();
      const visible = q.messages.filter((m) => m.visibleAt <= now).length;
      return { Attributes: { ApproximateNumberOfMessages: String(visible), ApproximateNumberOfMessagesNotVisible: String(q.messages.length - visible), VisibilityTimeout: String(q.visibilityTimeout), QueueArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${q.name}` } };
    },
    SendMessage: (input) => {
      const m = enqueue(queueOf(input.QueueUrl), input.MessageBody, Number(input.DelaySeconds ?? 0));
      return { MessageId: m.id, MD5OfMessageBody: m.md5 };
    },
    SendMessageBatch: (input) => {
      const q = queueOf(input.QueueUrl);
      const entries = (input.Entries ?? []) as { Id: string; MessageBody: string; DelaySeconds?: number }[];
      if (entries.length === 0) throw new SqsError('EmptyBatchRequest', 'AWS.SimpleQueueService.EmptyBatchRequest', 'There should be at least one SendMessageBatchRequestEntry in the request.');
      if (entries.length > MAX_BATCH) throw new SqsError('TooManyEntriesInBatchRequest', 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest', `Maximum number of entries per request are ${MAX_BATCH}. You have sent ${entries.length}.`);
      if (new Set(entries.map((e) => e.Id)).size !== entries.length) throw new SqsError('BatchEntryIdsNotDistinct', 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct', 'Two or more batch entries in the request have the same Id.');
      return {
        Successful: entries.map((e) => {
          const m = enqueue(q, e.MessageBody, e.DelaySeconds ?? 0);
          return { Id: e.Id, MessageId: m.id, MD5OfMessageBody: m.md5 };
        }),
        Failed: [],
      };
    },
    ReceiveMessage: async (input) => {
      const q = queueOf(input.QueueUrl);
      const max = Number(input.MaxNumberOfMessages ?? 1);
      if (!Number.isInteger(max) || max < 1 || max > MAX_BATCH) throw new SqsError('InvalidParameterValue', 'InvalidParameterValue', `MaxNumberOfMessages must be 1 to ${MAX_BATCH}; got ${max}.`);
      const visibility = Number(input.VisibilityTimeout ?? q.visibilityTimeout);
      const deadline = Date.now() + Number(input.WaitTimeSeconds ?? 0) * 1000;
      for (;;) {
        const messages = receive(q, max, visibility);
        if (messages.length || Date.now() >= deadline) return messages.length ? { Messages: messages } : {};
        await sleep(20);
      }
    },
    DeleteMessage: (input) => {
      const q = queueOf(input.QueueUrl);
      const m = byHandle(q, input.ReceiptHandle);
      q.messages = q.messages.filter((x) => x !== m);
      return {};
    },
    DeleteMessageBatch: (input) => {
      const q = queueOf(input.QueueUrl);
      const entries = (input.Entries ?? []) as { Id: string; ReceiptHandle: string }[];
      const result = { Successful: [] as { Id: string }[], Failed: [] as { Id: string; Code: string; Message: string; SenderFault: boolean }[] };
      for (const e of entries) {
        try {
          const m = byHandle(q, e.ReceiptHandle);
          q.messages = q.messages.filter((x) => x !== m);
          result.Successful.push({ Id: e.Id });
        } catch (err) {
          result.Failed.push({ Id: e.Id, Code: 'ReceiptHandleIsInvalid', Message: (err as Error).message, SenderFault: true });
        }
      }
      return result;
    },
    ChangeMessageVisibility: (input) => {
      const m = byHandle(queueOf(input.QueueUrl), input.ReceiptHandle);
      m.visibleAt = Date.now() + Number(input.VisibilityTimeout) * 1000;
      return {};
    },
  };

  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      void (async () => {
        const target = String(req.headers['x-amz-target'] ?? '');
        const op = target.startsWith('AmazonSQS.') ? operations[target.slice('AmazonSQS.'.length)] : undefined;
        try {
          if (req.method !== 'POST' || !op) throw new SqsError('InvalidAction', 'InvalidAction', `Unsupported action "${target}".`);
          const text = Buffer.concat(parts).toString('utf8');
          const answer = await op(text ? JSON.parse(text) as Record<string, unknown> : {});
          res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() });
          res.end(JSON.stringify(answer));
        } catch (err) {
          const e = err instanceof SqsError ? err : new SqsError('InternalError', 'InternalError', (err as Error).message, 500);
          res.writeHead(e.status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID(), 'x-amzn-query-error': `${e.queryCode};${e.status < 500 ? 'Sender' : 'Receiver'}` });
          res.end(JSON.stringify({ __type: `com.amazonaws.sqs#${e.type}`, message: e.message }));
        }
      })();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: SQSClient[] = [];
  return {
    endpoint,
    sent: (name) => sentBodies.get(name) ?? [],
    depth: (name) => queues.get(name)?.messages.length ?? 0,
    client: () => {
      const c = new SQSClient({ endpoint, region: REGION, credentials: { accessKeyId: 'SQS', secretAccessKey: 'SQS' } });
      clients.push(c);
      return c;
    },
    stop: async () => {
      for (const c of clients) c.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

export interface PollerOptions {
  readonly queueUrl: string;
  /** Most messages per invocation (the event source mapping's BatchSize, at most 10 here). */
  readonly batchSize?: number;
  /** Seconds a received message stays invisible (the queue's visibility timeout). */
  readonly visibilityTimeout?: number;
}

export interface PollStats {
  invocations: number;
  received: number;
  failures: number;
  /** Receive counts of the messages that were deleted, by message body. */
  readonly deliveries: Map<string, number>;
}

/**
 * Lambda's SQS event source mapping, in small: receive up to `batchSize` messages, invoke
 * `handler` with a real SQS event, delete what it did not report in batchItemFailures.
 * Runs until the queue is empty (nothing visible, nothing in flight) or `timeoutMs` passes.
 */
export async function drainQueue(sqs: SQSClient, handler: (event: SQSEvent) => Promise<unknown>, options: PollerOptions & { readonly timeoutMs: number }): Promise<PollStats> {
  const stats: PollStats = { invocations: 0, received: 0, failures: 0, deliveries: new Map() };
  const deadline = Date.now() + options.timeoutMs;
  const arn = `arn:aws:sqs:${REGION}:${ACCOUNT}:${options.queueUrl.slice(options.queueUrl.lastIndexOf('/') + 1)}`;
  while (Date.now() < deadline) {
    const received = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: options.queueUrl, MaxNumberOfMessages: options.batchSize ?? MAX_BATCH, VisibilityTimeout: options.visibilityTimeout,
      WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'],
    }));
    const messages = (received.Messages ?? []).map((m) => ({ MessageId: m.MessageId!, ReceiptHandle: m.ReceiptHandle!, Body: m.Body!, MD5OfBody: m.MD5OfBody!, Attributes: m.Attributes as Record<string, string> | undefined }));
    if (messages.length === 0) {
      const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: options.queueUrl, AttributeNames: ['All'] }));
      if (Number(attrs.Attributes?.ApproximateNumberOfMessages) + Number(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible) === 0) return stats;
      await sleep(50);
      continue;
    }
    const event: SQSEvent = {
      Records: messages.map((m): SQSRecord => ({
        messageId: m.MessageId, receiptHandle: m.ReceiptHandle, body: m.Body,
        attributes: m.Attributes as unknown as SQSRecord['attributes'],
        messageAttributes: {}, md5OfBody: m.MD5OfBody, eventSource: 'aws:sqs', eventSourceARN: arn, awsRegion: REGION,
      })),
    };
    stats.invocations++;
    stats.received += messages.length;
    let failed: Set<string>;
    try {
      const answer = await handler(event) as { batchItemFailures?: { itemIdentifier: string }[] } | undefined;
      failed = new Set((answer?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch {
      // A function error (Powertools throws when every record failed): the whole batch returns.
      failed = new Set(messages.map((m) => m.MessageId));
    }
    stats.failures += failed.size;
    const done = messages.filter((m) => !failed.has(m.MessageId));
    for (const m of done) stats.deliveries.set(m.Body, Number(m.Attributes?.ApproximateReceiveCount ?? 1));
    if (done.length) {
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: options.queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
    }
  }
  throw new Error(`The queue did not drain within ${options.timeoutMs} ms.`);
}
