// Raw tensors in, raw tensors out: TF Serving's REST predict API (row and columnar
// formats) and the Open Inference Protocol (KServe V2) infer API, checked against the
// model's signature. Served for every task, as TF Serving and KServe do.
import { BadRequestError, UnprocessableError } from '../errors';
import { isObject } from '../guards';
import { V2_DATATYPES, flattenValues, formatShape, shapeOf, tensorFrom, tensorFromInstances, tensorFromNested, v2Datatype, zerosFor } from '../tensor-codec';
import type { Tf } from '../backend';
import type { ServableModel, TensorSpec } from '../model';
import type { Tensor } from '@tensorflow/tfjs';

export class TensorPredictor {
  public constructor(private readonly tf: Tf, private readonly model: ServableModel) {}

  /** TF Serving `POST /v1/models/{name}:predict`: `{"instances": [...]}` or `{"inputs": ...}`. */
  public async predictRest(body: unknown): Promise<Record<string, unknown>> {
    if (!isObject(body)) throw new BadRequestError('The body must be a JSON object with "instances" (row format) or "inputs" (columnar format).');
    const hasInstances = 'instances' in body;
    const hasInputs = 'inputs' in body;
    if (hasInstances === hasInputs) {
      throw new BadRequestError(hasInstances
        ? 'Send either "instances" or "inputs", not both.'
        : 'Missing "instances" or "inputs" key. Example: {"instances": [[1.0, 2.0, 3.0]]}.');
    }
    const inputs = hasInstances ? this.fromInstances(body.instances) : this.fromColumnar(body.inputs);
    const outputs = await this.runAndRead(inputs);
    const names = Object.keys(outputs);
    if (!hasInstances) {
      return { outputs: names.length === 1 ? outputs[names[0]] : outputs };
    }
    if (names.length === 1) return { predictions: outputs[names[0]] };
    const n = (outputs[names[0]] as unknown[]).length;
    return { predictions: Array.from({ length: n }, (_, i) => Object.fromEntries(names.map((k) => [k, (outputs[k] as unknown[])[i]]))) };
  }

  /** KServe V2 `POST /v2/models/{name}/infer`. */
  public async inferV2(body: unknown, modelName: string): Promise<Record<string, unknown>> {
    if (!isObject(body) || !Array.isArray(body.inputs) || body.inputs.length === 0) {
      throw new BadRequestError('The body must be an Open Inference Protocol request: {"inputs": [{"name", "shape", "datatype", "data"}]}.');
    }
    const given = body.inputs as unknown[];
    const tensors: Record<string, Tensor> = {};
    try {
      given.forEach((raw, i) => {
        if (!isObject(raw) || typeof raw.name !== 'string' || !Array.isArray(raw.shape) || typeof raw.datatype !== 'string' || !('data' in raw)) {
          throw new BadRequestError(`inputs[${i}] must have "name", "shape", "datatype" and "data".`);
        }
        const spec = this.specFor(raw.name, given.length);
        if (spec.name in tensors) throw new BadRequestError(`Input '${spec.name}' is given twice.`);
        const dtype = V2_DATATYPES[raw.datatype];
        if (!dtype) throw new UnprocessableError(`inputs[${i}].datatype "${raw.datatype}" is not supported; use one of ${Object.keys(V2_DATATYPES).join(', ')}.`);
        if ((dtype === 'bool') !== (spec.dtype === 'bool')) {
          throw new UnprocessableError(`Input '${spec.name}' has dtype ${v2Datatype(spec.dtype)}; got ${raw.datatype}.`);
        }
        const shape = raw.shape as unknown[];
        if (!shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) throw new BadRequestError(`inputs[${i}].shape must be a list of non-negative integers.`);
        const data = Array.isArray(raw.data) ? flattenValues(raw.data as unknown[], `inputs[${i}].data`) : [raw.data];
        shapeOf(data, `inputs[${i}].data`);
        tensors[spec.name] = tensorFrom(this.tf, spec, data as (number | boolean)[], shape as number[]);
      });
      const missing = this.model.inputs.filter((s) => !(s.name in tensors));
      if (missing.length) throw new UnprocessableError(`Missing input${missing.length > 1 ? 's' : ''}: ${missing.map((s) => s.name).join(', ')}.`);
      const wanted = this.requestedOutputs(body.outputs);
      const outputs = await this.model.run(tensors);
      try {
        const answer = await Promise.all(wanted.map(async (spec) => {
          const t = outputs[spec.name];
          return { name: spec.name, datatype: v2Datatype(t.dtype), shape: t.shape, data: Array.from(await t.data() as ArrayLike<number>) };
        }));
        return { model_name: modelName, model_version: '1', ...(typeof body.id === 'string' ? { id: body.id } : {}), outputs: answer };
      } finally {
        this.tf.dispose(outputs);
      }
    } finally {
      this.tf.dispose(tensors);
    }
  }

  /** KServe V2 model metadata. */
  public metadataV2(modelName: string, platform: string): Record<string, unknown> {
    const describe = (s: TensorSpec) => ({ name: s.name, datatype: v2Datatype(s.dtype), shape: (s.shape ?? []).map((d) => d ?? -1) });
    return { name: modelName, versions: ['1'], platform, inputs: this.model.inputs.map(describe), outputs: this.model.outputs.map(describe) };
  }

  public async warmUp(fill: readonly number[] = []): Promise<void> {
    const inputs = Object.fromEntries(this.model.inputs.map((s) => [s.name, zerosFor(this.tf, s, fill)]));
    await this.runAndRead(inputs);
  }

  private fromInstances(instances: unknown): Record<string, Tensor> {
    if (!Array.isArray(instances)) throw new BadRequestError('"instances" must be a list, one element per instance.');
    const specs = this.model.inputs;
    const named = instances.length > 0 && instances.every((x) => isObject(x));
    if (specs.length === 1 && !named) return { [specs[0].name]: tensorFromInstances(this.tf, specs[0], instances, 'instances') };
    if (!named) throw new UnprocessableError(`This model has ${specs.length} inputs (${specs.map((s) => s.name).join(', ')}): each instance must be an object keyed by input name.`);
    return this.build(specs, (spec) => tensorFromInstances(this.tf, spec, instances.map((x, i) => {
      const obj = x as Record<string, unknown>;
      const key = this.keyFor(spec, obj, `instances[${i}]`);
      return obj[key];
    }), `instances.${spec.name}`));
  }

  private fromColumnar(inputs: unknown): Record<string, Tensor> {
    const specs = this.model.inputs;
    if (specs.length === 1 && !isObject(inputs)) return { [specs[0].name]: tensorFromNested(this.tf, specs[0], inputs, 'inputs') };
    if (!isObject(inputs)) throw new UnprocessableError(`This model has ${specs.length} inputs (${specs.map((s) => s.name).join(', ')}): "inputs" must be an object keyed by input name.`);
    return this.build(specs, (spec) => tensorFromNested(this.tf, spec, inputs[this.keyFor(spec, inputs, 'inputs')], `inputs.${spec.name}`));
  }

  /** Builds every input; disposes the ones already built when one fails. */
  private build(specs: readonly TensorSpec[], make: (spec: TensorSpec) => Tensor): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    try {
      for (const spec of specs) out[spec.name] = make(spec);
      return out;
    } catch (err) {
      this.tf.dispose(out);
      throw err;
    }
  }

  /** The key holding `spec` in an object: its exact name, or the sole key for a one-input model. */
  private keyFor(spec: TensorSpec, obj: Record<string, unknown>, where: string): string {
    if (spec.name in obj) return spec.name;
    const keys = Object.keys(obj);
    if (this.model.inputs.length === 1 && keys.length === 1) return keys[0];
    throw new UnprocessableError(`${where} has no input '${spec.name}'. The model's inputs: ${this.model.inputs.map((s) => s.name).join(', ')}.`);
  }

  private specFor(name: string, givenCount: number): TensorSpec {
    const spec = this.model.inputs.find((s) => s.name === name);
    if (spec) return spec;
    if (this.model.inputs.length === 1 && givenCount === 1) return this.model.inputs[0];
    throw new UnprocessableError(`Unknown input '${name}'. The model's inputs: ${this.model.inputs.map((s) => `${s.name} ${formatShape(s.shape ?? [])}`).join(', ')}.`);
  }

  private requestedOutputs(outputs: unknown): readonly TensorSpec[] {
    if (outputs === undefined) return this.model.outputs;
    if (!Array.isArray(outputs)) throw new BadRequestError('"outputs" must be a list of {"name": ...}.');
    return outputs.map((o, i) => {
      const name = isObject(o) ? o.name : undefined;
      const spec = this.model.outputs.find((s) => s.name === name);
      if (!spec) throw new UnprocessableError(`outputs[${i}] names no output of this model. Its outputs: ${this.model.outputs.map((s) => s.name).join(', ')}.`);
      return spec;
    });
  }

  /** Runs the model, reads every output as nested arrays, and disposes all tensors. */
  private async runAndRead(inputs: Record<string, Tensor>): Promise<Record<string, unknown>> {
    let outputs: Record<string, Tensor> = {};
    try {
      outputs = await this.model.run(inputs);
      const entries = await Promise.all(Object.entries(outputs).map(async ([k, t]) => [k, await t.array()] as const));
      return Object.fromEntries(entries);
    } finally {
      this.tf.dispose([inputs, outputs]);
    }
  }
}
