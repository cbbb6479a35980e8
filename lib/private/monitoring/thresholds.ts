// Alarm thresholds: one place for the defaults, the precedence (a target's overrides >
// the construct's thresholds > defaults), and their validation.
import { Duration, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { MonitoringThresholds } from '../../inference-monitoring';
import { TensorFlowValidationError } from '../validation-error';

export type ResolvedThresholds = Required<MonitoringThresholds>;

export const DEFAULT_THRESHOLDS: ResolvedThresholds = {
  errorRatePercent: 5,
  throttles: 0,
  durationTimeoutPercent: 80,
  coldStartRatePercent: 10,
  modelLoadTime: Duration.seconds(8),
  outOfMemoryErrors: 0,
  outOfMemoryKills: 0,
  provisionedConcurrencySpillover: 0,
  capacityProviderCpuPercent: 90,
  deadLetterQueueMessages: 0,
  queueOldestMessageAge: Duration.minutes(15),
  batchFailedRowRatePercent: 5,
  apiServerErrorRatePercent: 1,
  apiClientErrorRatePercent: 10,
  apiLatencyP99: Duration.seconds(5),
};

const PERCENTS = ['errorRatePercent', 'durationTimeoutPercent', 'coldStartRatePercent', 'capacityProviderCpuPercent', 'apiServerErrorRatePercent', 'apiClientErrorRatePercent', 'batchFailedRowRatePercent'] as const;
const COUNTS = ['throttles', 'outOfMemoryErrors', 'outOfMemoryKills', 'provisionedConcurrencySpillover', 'deadLetterQueueMessages'] as const;
/** Each duration threshold and the unit its alarm compares in: a token must be given in it. */
const DURATIONS = { modelLoadTime: 'millis', queueOldestMessageAge: 'seconds', apiLatencyP99: 'millis' } as const;

/** Merges `layers` over the defaults (later layers win) and validates the result. */
export function resolveThresholds(scope: IConstruct, prop: string, ...layers: (MonitoringThresholds | undefined)[]): ResolvedThresholds {
  const given: Partial<ResolvedThresholds> = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer ?? {})) {
      if (value !== undefined) (given as Record<string, unknown>)[key] = value;
    }
  }
  validate(scope, prop, given);
  return { ...DEFAULT_THRESHOLDS, ...given };
}

function validate(scope: IConstruct, prop: string, t: Partial<ResolvedThresholds>): void {
  const fail = (message: string) => {
    throw new TensorFlowValidationError(scope, `${prop}.${message}`);
  };
  for (const key of PERCENTS) {
    const v = t[key];
    if (v !== undefined && !Token.isUnresolved(v) && !(v > 0 && v <= 100)) fail(`${key} must be a percentage above 0 and at most 100; got ${v}.`);
  }
  for (const key of COUNTS) {
    const v = t[key];
    if (v !== undefined && !Token.isUnresolved(v) && !(Number.isInteger(v) && v >= 0)) fail(`${key} must be a whole number of at least 0 (the alarm fires above it); got ${v}.`);
  }
  for (const [key, unit] of Object.entries(DURATIONS) as [keyof typeof DURATIONS, 'millis' | 'seconds'][]) {
    const v = t[key];
    if (v === undefined) continue;
    if (v.isUnresolved()) {
      // The alarm's threshold is the number in its unit, which a token has only in that unit.
      try {
        if (unit === 'millis') v.toMilliseconds(); else v.toSeconds();
      } catch {
        fail(`${key} from a token must be given as Duration.${unit}(value), the unit of its alarm's threshold: a token cannot be converted from another unit at synth time.`);
      }
    } else if (v.toMilliseconds() <= 0) {
      fail(`${key} must be longer than zero; got ${v.toHumanString()}.`);
    }
  }
}
