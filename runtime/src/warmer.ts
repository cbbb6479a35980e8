// The warmer: a small Lambda function, triggered on a schedule, that keeps N execution
// environments of the inference function warm. Lambda gives each in-flight invocation
// its own environment, so N pings that overlap in time (each holds its environment for
// holdMs) reach N different environments, and any cold one loads its model now instead
// of on a user's request.
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { Logger } from '@aws-lambda-powertools/logger';
import { MAX_WARMUP_HOLD_MS } from './events';
import type { WarmUpEvent } from './events';
import type { Context } from 'aws-lambda';

const ENV_TARGET = 'WARM_TARGET';
const ENV_CONCURRENCY = 'WARM_CONCURRENCY';
const ENV_HOLD_MS = 'WARM_HOLD_MS';

const MAX_WARM_CONCURRENCY = 100;
const CONCURRENCY_DEFAULT = 1;
const HOLD_MS_DEFAULT = 250;

/** Room for a cold environment to load its model before its ping counts as lost. */
const PING_TIMEOUT_DEFAULT_MS = 30_000;
/** Kept back from the warmer's own deadline, so the summary is logged before Lambda stops it. */
const SUMMARY_MARGIN_MS = 1_000;

/**
 * A qualified function ARN. The qualifier is required: an alias (or version) has its own
 * environments, and warming $LATEST would leave the ones that serve traffic cold.
 */
const QUALIFIED_FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}:[A-Za-z0-9_$-]{1,128}$/;

export interface WarmOptions {
  readonly client: LambdaClient;
  /** The inference function's ARN with its alias qualifier. */
  readonly target: string;
  /** How many environments to keep warm: pings sent at the same time. */
  readonly concurrency: number;
  /** How long each ping holds its environment, so the pings overlap. */
  readonly holdMs: number;
  /** Deadline for each ping. Default: 30 s. */
  readonly timeoutMs?: number;
}

export interface WarmSummary {
  readonly target: string;
  readonly requested: number;
  readonly answered: number;
  readonly coldStarts: number;
  /** One line per ping that did not come back warm; they do not fail the run. */
  readonly errors: string[];
}

type PingResult = { readonly coldStart: boolean } | { readonly error: string };

/** Sends `concurrency` overlapping warm-up pings to the target and counts the answers. */
export async function warm(options: WarmOptions): Promise<WarmSummary> {
  const event: WarmUpEvent = { warmup: true, holdMs: options.holdMs };
  const payload = new TextEncoder().encode(JSON.stringify(event));
  const results = await Promise.all(Array.from({ length: options.concurrency }, () => ping(options, payload)));
  const errors: string[] = [];
  let answered = 0;
  let coldStarts = 0;
  for (const r of results) {
    if ('error' in r) {
      errors.push(r.error);
      continue;
    }
    answered += 1;
    if (r.coldStart) coldStarts += 1;
  }
  return { target: options.target, requested: options.concurrency, answered, coldStarts, errors };
}

async function ping(options: WarmOptions, payload: Uint8Array): Promise<PingResult> {
  const timeoutMs = options.timeoutMs ?? PING_TIMEOUT_DEFAULT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const out = await options.client.send(
      new InvokeCommand({ FunctionName: options.target, InvocationType: 'RequestResponse', Payload: payload }),
      { abortSignal: signal },
    );
    const body = out.Payload ? new TextDecoder().decode(out.Payload) : '';
    const answer = parseJson(body);
    if (out.FunctionError) return { error: `FunctionError ${out.FunctionError}: ${functionErrorMessage(answer, body)}` };
    if (!isRecord(answer) || answer.warm !== true || typeof answer.coldStart !== 'boolean') {
      return { error: `Not a warm-up answer: ${truncate(body)}` };
    }
    return { coldStart: answer.coldStart };
  } catch (err) {
    if (signal.aborted) return { error: `Timed out after ${timeoutMs} ms` };
    return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

function functionErrorMessage(answer: unknown, body: string): string {
  if (isRecord(answer) && typeof answer.errorMessage === 'string') {
    return typeof answer.errorType === 'string' ? `${answer.errorType}: ${answer.errorMessage}` : answer.errorMessage;
  }
  return truncate(body);
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}

interface WarmerConfig {
  readonly target: string;
  readonly concurrency: number;
  readonly holdMs: number;
}

function configFromEnv(env: Record<string, string | undefined>): WarmerConfig {
  const target = env[ENV_TARGET]?.trim();
  if (!target) {
    throw new Error(`${ENV_TARGET} is not set: it names the function to warm, as a function ARN with its alias (arn:aws:lambda:REGION:ACCOUNT:function:NAME:ALIAS).`);
  }
  if (!QUALIFIED_FUNCTION_ARN.test(target)) {
    throw new Error(`${ENV_TARGET} must be a function ARN with its alias (arn:aws:lambda:REGION:ACCOUNT:function:NAME:ALIAS); got '${target}'.`);
  }
  return {
    target,
    concurrency: wholeNumber(env, ENV_CONCURRENCY, 1, MAX_WARM_CONCURRENCY, CONCURRENCY_DEFAULT),
    holdMs: wholeNumber(env, ENV_HOLD_MS, 0, MAX_WARMUP_HOLD_MS, HOLD_MS_DEFAULT),
  };
}

function wholeNumber(env: Record<string, string | undefined>, name: string, min: number, max: number, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}; got '${raw}'.`);
  }
  return value;
}

// Module scope: warm environments of the warmer reuse the client's connections and
// credentials. Two attempts ride out one blip; more would send a ping after the others
// have released their environments, where it lands on one of them instead of its own.
const lambda = new LambdaClient({ maxAttempts: 2 });
const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'serverless-tf-warmer' });

/** The Lambda entry; the scheduled event itself carries nothing the warmer needs. */
export async function handler(_event: unknown, context?: Partial<Context>): Promise<WarmSummary> {
  const config = configFromEnv(process.env);
  const remainingMs = context?.getRemainingTimeInMillis?.();
  const timeoutMs = remainingMs === undefined ? undefined : Math.max(1, remainingMs - SUMMARY_MARGIN_MS);
  const summary = await warm({ client: lambda, ...config, timeoutMs });
  const details = { ...summary, holdMs: config.holdMs, requestId: context?.awsRequestId };
  if (summary.errors.length > 0) logger.warn('Warm-up round finished with errors', details);
  else logger.info('Warm-up round finished', details);
  return summary;
}
