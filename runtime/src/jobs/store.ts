// The jobs table: one item per job (`job#{id}`) and one per idempotency key
// (`idem#{key}`). Every status change is a conditional write, so a redelivered
// message or a second notification cannot move a finished job, and two requests
// with the same key get one job. Items carry `expiresAt` (epoch seconds), the table's
// TTL attribute; DynamoDB deletes expired items lazily, so reads treat them as gone.
import { documentClient, dynamoCommands } from '../aws-clients';
import { JOB_STATUS, epochSeconds, idempotencyPk, jobPk } from './job';
import type { IdempotencyItem, JobItem, JobStatus } from './job';
import type { JobsConfig } from '../config';

/** What a finished job records. */
export type JobOutcome =
  | { readonly status: typeof JOB_STATUS.SUCCEEDED; readonly resultKey: string; readonly resultBytes: number; readonly resultJson?: string }
  | { readonly status: typeof JOB_STATUS.FAILED; readonly error: string; readonly statusCode: number };

const SECONDS_PER_DAY = 86_400;

export class JobStore {
  public constructor(private readonly config: JobsConfig) {}

  /** Epoch seconds at which an item written now expires. */
  public expiry(now: Date = new Date()): number {
    return epochSeconds(now) + this.config.ttlDays * SECONDS_PER_DAY;
  }

  /** The job, or undefined when there is none or it has expired. */
  public async get(jobId: string): Promise<JobItem | undefined> {
    const [db, { GetCommand }] = await Promise.all([documentClient(), dynamoCommands()]);
    const { Item } = await db.send(new GetCommand({ TableName: this.config.table, Key: { pk: jobPk(jobId) }, ConsistentRead: true }));
    const item = Item as JobItem | undefined;
    return item && item.expiresAt > epochSeconds() ? item : undefined;
  }

  public async create(item: JobItem): Promise<void> {
    const [db, { PutCommand }] = await Promise.all([documentClient(), dynamoCommands()]);
    await db.send(new PutCommand({ TableName: this.config.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
  }

  public async delete(jobId: string): Promise<void> {
    const [db, { DeleteCommand }] = await Promise.all([documentClient(), dynamoCommands()]);
    await db.send(new DeleteCommand({ TableName: this.config.table, Key: { pk: jobPk(jobId) } }));
  }

  /**
   * Claims an idempotency key for a job. Returns undefined when this call claimed it,
   * or the item that holds it (an expired holder is replaced).
   */
  public async claimIdempotencyKey(key: string, jobId: string, fingerprint: string, expiresAt: number): Promise<IdempotencyItem | undefined> {
    const [db, { PutCommand, GetCommand }] = await Promise.all([documentClient(), dynamoCommands()]);
    const item: IdempotencyItem = { pk: idempotencyPk(key), jobId, fingerprint, expiresAt };
    try {
      await db.send(new PutCommand({
        TableName: this.config.table,
        Item: item,
        ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
        ExpressionAttributeValues: { ':now': epochSeconds() },
      }));
      return undefined;
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
    }
    const { Item } = await db.send(new GetCommand({ TableName: this.config.table, Key: { pk: item.pk }, ConsistentRead: true }));
    return Item as IdempotencyItem;
  }

  /**
   * Moves a job to RUNNING and counts the attempt, if its status is one of `from`.
   * Returns the updated job, or undefined when the job was not in such a status.
   */
  public async start(jobId: string, from: readonly JobStatus[]): Promise<JobItem | undefined> {
    const now = new Date().toISOString();
    return this.update(jobId, from, {
      set: { status: JOB_STATUS.RUNNING, updatedAt: now },
      setIfNotExists: { startedAt: now },
      add: { attempts: 1 },
    });
  }

  /** Records a transient failure on a running job; its message is retried. */
  public async recordTransientError(jobId: string, error: string): Promise<void> {
    await this.update(jobId, [JOB_STATUS.RUNNING], { set: { lastError: error, updatedAt: new Date().toISOString() } });
  }

  /**
   * Finishes a job that is in one of the `from` statuses; the TTL restarts, so a
   * finished job is kept for the configured days. Returns undefined when it was not.
   */
  public async finish(jobId: string, outcome: JobOutcome, from: readonly JobStatus[]): Promise<JobItem | undefined> {
    const now = new Date();
    return this.update(jobId, from, {
      set: { ...outcome, finishedAt: now.toISOString(), updatedAt: now.toISOString(), expiresAt: this.expiry(now) },
    });
  }

  public async markNotified(jobId: string): Promise<void> {
    await this.update(jobId, [JOB_STATUS.SUCCEEDED, JOB_STATUS.FAILED], { set: { notifiedAt: new Date().toISOString() } });
  }

  private async update(jobId: string, from: readonly JobStatus[], changes: {
    readonly set: Record<string, unknown>;
    readonly setIfNotExists?: Record<string, unknown>;
    readonly add?: Record<string, number>;
  }): Promise<JobItem | undefined> {
    const [db, { UpdateCommand }] = await Promise.all([documentClient(), dynamoCommands()]);
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = {};
    const name = (field: string) => {
      names[`#${field}`] = field;
      return `#${field}`;
    };
    const value = (field: string, v: unknown) => {
      values[`:${field}`] = v;
      return `:${field}`;
    };
    const sets = Object.entries(changes.set).filter(([, v]) => v !== undefined).map(([k, v]) => `${name(k)} = ${value(k, v)}`);
    for (const [k, v] of Object.entries(changes.setIfNotExists ?? {})) sets.push(`${name(k)} = if_not_exists(${name(k)}, ${value(k, v)})`);
    const adds = Object.entries(changes.add ?? {}).map(([k, v]) => `${name(k)} ${value(k, v)}`);
    const allowed = from.map((s, i) => value(`from${i}`, s));
    values[':now'] = epochSeconds();
    try {
      const { Attributes } = await db.send(new UpdateCommand({
        TableName: this.config.table,
        Key: { pk: jobPk(jobId) },
        UpdateExpression: `SET ${sets.join(', ')}${adds.length ? ` ADD ${adds.join(', ')}` : ''}`,
        ConditionExpression: `attribute_exists(pk) AND expiresAt > :now AND #status IN (${allowed.join(', ')})`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }));
      return Attributes as JobItem;
    } catch (err) {
      if (isConditionFailed(err)) return undefined;
      throw err;
    }
  }
}

function isConditionFailed(err: unknown): boolean {
  return (err as Error | undefined)?.name === 'ConditionalCheckFailedException';
}
