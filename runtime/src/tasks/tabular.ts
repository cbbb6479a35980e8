// Tabular prediction: named feature columns (JSON objects, arrays in feature order, or
// CSV rows) -> one [N, features] float32 tensor -> labelled classes or named outputs.
// Each row is checked on its own, so a batch can answer good rows and name bad ones.
import { BadRequestError, ConfigurationError, UnprocessableError } from '../errors';
import { MAX_INSTANCES_PER_REQUEST } from '../constants';
import { isObject } from '../guards';
import { outputWidth } from './output-width';
import { FLOAT32_MAX } from '../tensor-codec';
import { rows, topK, round } from './postprocess';
import type { Tf } from '../backend';
import type { ServableModel, TensorSpec } from '../model';
import type { TabularTaskConfig } from '../task-config';
import type { LabelScore } from './postprocess';
import type { Tensor } from '@tensorflow/tfjs';

export type TabularPrediction = LabelScore[] | Record<string, number> | number[];

export class TabularPredictor {
  public readonly input: TensorSpec;

  public constructor(private readonly tf: Tf, private readonly model: ServableModel, private readonly task: TabularTaskConfig) {
    if (model.inputs.length !== 1) {
      throw new Error(`The tabular task needs a model with one input vector; this model has ${model.inputs.length} inputs. Use the tensor task.`);
    }
    this.input = model.inputs[0];
    const shape = this.input.shape;
    if (shape && (shape.length !== 2 || (shape[1] !== null && shape[1] !== task.features.length))) {
      throw new Error(`The tabular task lists ${task.features.length} features, but the model's input '${this.input.name}' has shape ${JSON.stringify(shape)}: it needs [batch, ${task.features.length}].`);
    }
    const width = outputWidth(model);
    for (const [name, names] of [['labels', task.labels], ['outputNames', task.outputNames]] as const) {
      if (names && width !== undefined && names.length !== width) {
        throw new ConfigurationError(`The tabular task's ${name} name ${names.length} outputs, but the model's output '${model.outputs[0].name}' has ${width}: give ${width} ${name}, in the order of the model's outputs.`);
      }
    }
  }

  public get features(): readonly string[] {
    return this.task.features;
  }

  /** One row from a JSON object keyed by feature name, or an array in feature order. */
  public vector(instance: unknown, where: string): Float32Array {
    const features = this.task.features;
    if (Array.isArray(instance)) {
      if (instance.length !== features.length) {
        throw new UnprocessableError(`${where}: expected ${features.length} values (${features.join(', ')}), got ${instance.length}.`);
      }
      return Float32Array.from(instance, (v, i) => toNumber(v, features[i], where));
    }
    if (isObject(instance)) {
      const missing = features.filter((f) => !(f in instance) || instance[f] === '' || instance[f] === null);
      if (missing.length) throw new UnprocessableError(`${where}: missing feature${missing.length > 1 ? 's' : ''} ${missing.join(', ')}. Expected: ${features.join(', ')}.`);
      return Float32Array.from(features, (f) => toNumber(instance[f], f, where));
    }
    throw new UnprocessableError(`${where}: expected an object keyed by feature name (${features.join(', ')}) or an array of ${features.length} numbers; got ${instance === null ? 'null' : typeof instance}.`);
  }

  /** Parses CSV text with a header row into records keyed by column name (csv-parse loads on the first CSV body). */
  public async parseCsv(text: string): Promise<Record<string, string>[]> {
    const { parse } = await import('csv-parse/sync');
    try {
      return parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true }) as Record<string, string>[];
    } catch (err) {
      throw new BadRequestError(`The CSV could not be parsed: ${(err as Error).message}. Send a header row with the feature names (${this.task.features.join(', ')}) and one row per instance.`);
    }
  }

  /** Predicts a batch of rows, built with vector(). */
  public async predict(vectors: readonly Float32Array[]): Promise<TabularPrediction[]> {
    if (vectors.length === 0) return [];
    const width = this.task.features.length;
    const flat = new Float32Array(vectors.length * width);
    vectors.forEach((v, i) => flat.set(v, i * width));
    return rows(await this.scores(flat, vectors.length), vectors.length).map((r) => this.answer(r));
  }

  /**
   * The model's raw output for `n` rows of features laid out one after another in `flat`:
   * [n, outputs] values, for callers that format answers themselves, such as the batch
   * worker's CSV columns; answer() turns one row of it into what predict() returns.
   */
  public async scores(flat: Float32Array, n: number): Promise<Float32Array> {
    if (n > MAX_INSTANCES_PER_REQUEST) {
      throw new UnprocessableError(`${n} rows in one request; the limit is ${MAX_INSTANCES_PER_REQUEST}. Split the request or use batch inference.`);
    }
    const x = this.tf.tensor2d(flat, [n, this.task.features.length], 'float32');
    let outputs: Record<string, Tensor> = {};
    try {
      outputs = await this.model.run({ [this.input.name]: x });
      return await outputs[this.model.outputs[0].name].data() as Float32Array;
    } finally {
      this.tf.dispose([x, outputs]);
    }
  }

  public async warmUp(): Promise<void> {
    await this.predict([new Float32Array(this.task.features.length)]);
  }

  /** One row of scores() as predict() answers it: labelled classes, named outputs or the raw values. */
  public answer(row: ArrayLike<number>): TabularPrediction {
    if (this.task.labels) return topK(row, this.task.labels, this.task.topK ?? this.task.labels.length, this.task.softmax);
    if (this.task.outputNames) return Object.fromEntries(this.task.outputNames.map((n, i) => [n, round(row[i])]));
    return Array.from(row, round);
  }
}

function toNumber(v: unknown, feature: string, where: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) {
    throw new UnprocessableError(`${where}: feature '${feature}' must be a finite number; got ${describeValue(v)}.`);
  }
  // The model takes float32: a larger magnitude would become Infinity, and the answer null.
  if (!Number.isFinite(Math.fround(n))) {
    throw new UnprocessableError(`${where}: feature '${feature}' is ${n}, out of float32 range (magnitude at most ${FLOAT32_MAX.toPrecision(8)}).`);
  }
  return n;
}

/** A value as a message names it: short, and without walking nested values (they may be nested 100,000 deep). */
function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null || typeof v !== 'object') return String(v);
  return 'an object';
}
