// What a TF.js model.json tells about the model's one input and one output, read at synth
// time so a task that cannot match the model (labels for 2 classes on a 5-class model, a
// 299 input size on a 224 model) fails at `cdk synth`, not at init after a deploy. Only
// what the file states is used: a dimension that is free (-1, null) or a shape that cannot
// be derived without running TensorFlow is unknown, and unknown is never an error.
// SavedModels have no model.json (their signature is in a protobuf): the runtime checks
// them, like S3 models, at init.
import * as fs from 'fs';
import * as path from 'path';

/** A dimension: a size, or null when free or unknown. */
export type Dim = number | null;

export interface ModelSignature {
  /** The input's shape including the batch dimension, when the model has exactly one input and its shape is stated. */
  readonly inputShape?: readonly Dim[];
  /** The size of the output's last dimension (classes or values), when the model has one output and it can be told. */
  readonly outputSize?: number;
}

interface KerasLayer {
  readonly class_name?: string;
  readonly name?: string;
  readonly config?: Record<string, unknown>;
  readonly inbound_nodes?: unknown[];
}

/** Layers that pass their input's last dimension through unchanged. */
const SAME_WIDTH = new Set(['Activation', 'Softmax', 'ReLU', 'LeakyReLU', 'PReLU', 'ELU', 'ThresholdedReLU', 'Dropout', 'AlphaDropout',
  'GaussianDropout', 'GaussianNoise', 'ActivityRegularization', 'BatchNormalization', 'LayerNormalization']);

/** Reads the signature of the TF.js model in `dir`; undefined when there is no model.json or it cannot be read. */
export function readModelSignature(dir: string): ModelSignature | undefined {
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) return undefined;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const topology = json.modelTopology as Record<string, unknown> | undefined;
  if (!topology) return undefined;
  if (json.format === 'graph-model' || Array.isArray(topology.node)) return graphSignature(json);
  return layersSignature(topology);
}

function dims(shape: unknown): Dim[] | undefined {
  if (!Array.isArray(shape)) return undefined;
  return shape.map((d) => (typeof d === 'number' && d >= 0 ? d : null));
}

function layersSignature(topology: Record<string, unknown>): ModelSignature {
  const model = (topology.model_config ?? topology) as { class_name?: string; config?: unknown };
  const config = model.config;
  const layers = (Array.isArray(config) ? config : (config as { layers?: unknown } | undefined)?.layers) as KerasLayer[] | undefined;
  if (!Array.isArray(layers) || layers.length === 0) return {};
  const byName = new Map(layers.map((l) => [l.config?.name ?? l.name, l]));
  const named = (config ?? {}) as { input_layers?: unknown[]; output_layers?: unknown[] };
  const sequential = model.class_name === 'Sequential' || named.output_layers === undefined;

  // Input: the one input layer's batch shape (functional), or the first layer's (Sequential).
  let inputShape: Dim[] | undefined;
  if (sequential) {
    const first = layers[0].config ?? {};
    inputShape = dims(first.batch_input_shape ?? first.batchInputShape ?? first.batch_shape);
  } else {
    const input = byName.get(onlyLayerName(named.input_layers));
    inputShape = dims(input?.config?.batch_input_shape ?? input?.config?.batchInputShape ?? input?.config?.batch_shape);
  }

  // Output: walk back from the output layer through layers that keep the width, to a Dense.
  let layer: KerasLayer | undefined;
  if (sequential) layer = layers[layers.length - 1];
  else layer = byName.get(onlyLayerName(named.output_layers));
  let outputSize: number | undefined;
  for (let hops = 0; layer && hops < layers.length; hops++) {
    const className = layer.class_name ?? '';
    if (className === 'Dense') {
      const units = layer.config?.units;
      outputSize = typeof units === 'number' && units > 0 ? units : undefined;
      break;
    }
    if (!SAME_WIDTH.has(className)) break;
    layer = sequential ? layers[layers.indexOf(layer) - 1] : inboundLayer(layer, byName);
  }
  return { ...(inputShape ? { inputShape } : {}), ...(outputSize !== undefined ? { outputSize } : {}) };
}

/**
 * The layer name of input_layers / output_layers when there is exactly one: a list of
 * [name, node, tensor] triples (Keras 2, TF.js), or one bare triple (Keras 3).
 */
function onlyLayerName(layers: unknown[] | undefined): string | undefined {
  if (!Array.isArray(layers)) return undefined;
  if (typeof layers[0] === 'string') return layers[0];
  return layers.length === 1 && Array.isArray(layers[0]) ? String(layers[0][0]) : undefined;
}

/**
 * The one layer feeding `layer` in a functional model: inbound_nodes [[["name", 0, 0, {}]]]
 * (Keras 2, TF.js) or [{ args: [{ config: { keras_history: ["name", 0, 0] } }] }] (Keras 3).
 */
function inboundLayer(layer: KerasLayer, byName: Map<unknown, KerasLayer>): KerasLayer | undefined {
  const nodes = layer.inbound_nodes;
  if (!Array.isArray(nodes) || nodes.length !== 1) return undefined;
  const node = nodes[0] as unknown;
  if (Array.isArray(node)) {
    return node.length === 1 && Array.isArray(node[0]) ? byName.get(String(node[0][0])) : undefined;
  }
  const args = (node as { args?: { config?: { keras_history?: unknown[] } }[] } | undefined)?.args;
  const history = Array.isArray(args) && args.length === 1 ? args[0]?.config?.keras_history : undefined;
  return Array.isArray(history) ? byName.get(String(history[0])) : undefined;
}

interface GraphTensorInfo {
  readonly tensorShape?: { readonly dim?: { readonly size?: string | number }[]; readonly unknownRank?: boolean };
}

/** Graph models (tensorflowjs_converter output): the serving signature, where the converter wrote one. */
function graphSignature(json: Record<string, unknown>): ModelSignature {
  const metadata = json.userDefinedMetadata as Record<string, unknown> | undefined;
  // As tfjs-converter's loader does: the user-defined metadata's signature first.
  type Signature = { inputs?: Record<string, GraphTensorInfo>; outputs?: Record<string, GraphTensorInfo> };
  const signature = (metadata?.signature ?? json.signature) as Signature | undefined;
  if (!signature) return {};
  const shapeOf = (info: GraphTensorInfo | undefined): Dim[] | undefined => {
    const shape = info?.tensorShape;
    if (!shape || shape.unknownRank || !Array.isArray(shape.dim)) return undefined;
    return shape.dim.map((d) => {
      const size = Number(d.size ?? -1);
      return Number.isInteger(size) && size >= 0 ? size : null;
    });
  };
  const inputs = Object.values(signature.inputs ?? {});
  const outputs = Object.values(signature.outputs ?? {});
  const inputShape = inputs.length === 1 ? shapeOf(inputs[0]) : undefined;
  const outputShape = outputs.length === 1 ? shapeOf(outputs[0]) : undefined;
  const last = outputShape && outputShape.length > 0 ? outputShape[outputShape.length - 1] : null;
  return { ...(inputShape ? { inputShape } : {}), ...(last !== null && last !== undefined ? { outputSize: last } : {}) };
}

/** The rendered task (SERVERLESS_TF_TASK), as far as the checks read it. */
interface TaskJson {
  readonly type: string;
  readonly inputSize?: number | [number, number];
  readonly channels?: number;
  readonly labels?: string[];
  readonly features?: string[];
  readonly outputNames?: string[];
}

/**
 * Problems between the task and what model.json says about the model, worded for the
 * user: which prop, what the model has, what was given, what to change. Empty when they
 * agree or when the model does not say.
 */
export function taskModelMismatches(taskJson: string, signature: ModelSignature | undefined, modelPath: string): string[] {
  if (!signature) return [];
  const task = JSON.parse(taskJson) as TaskJson;
  const problems: string[] = [];
  const input = signature.inputShape;
  const outputs = signature.outputSize;
  const model = `the model in ${modelPath}`;
  if (task.type === 'image-classification') {
    if (input && input.length === 4) {
      const [, h, w, c] = input;
      const [height, width] = Array.isArray(task.inputSize) ? task.inputSize : [task.inputSize, task.inputSize];
      if ((h !== null && h !== height) || (w !== null && w !== width)) {
        const want = h !== null && w !== null && h === w ? `inputSize: ${h}` : `inputHeight: ${h ?? height}, inputWidth: ${w ?? width}`;
        problems.push(`InferenceTask.imageClassification: ${model} takes ${h ?? 'any'}x${w ?? 'any'} images (input shape ${shapeText(input)}), but the task resizes to ${height}x${width}. Set ${want}.`);
      }
      if (c !== null && c !== (task.channels ?? 3)) {
        problems.push(`InferenceTask.imageClassification: ${model} takes ${c} colour channel${c === 1 ? '' : 's'}, but channels is ${task.channels ?? 3}. Set channels: ${c}.`);
      }
    } else if (input) {
      problems.push(`InferenceTask.imageClassification: ${model} has an input of shape ${shapeText(input)}, not [batch, height, width, channels]. Use InferenceTask.tensor() for it.`);
    }
    if (task.labels && outputs !== undefined && task.labels.length !== outputs) {
      problems.push(`InferenceTask.imageClassification: ${model} scores ${outputs} classes, but labels names ${task.labels.length} (${preview(task.labels)}). Give ${outputs} labels, in the order of the model's outputs, or omit labels to answer class indices.`);
    }
  }
  if (task.type === 'tabular') {
    const features = task.features ?? [];
    if (input && input.length === 2 && input[1] !== null && input[1] !== features.length) {
      problems.push(`InferenceTask.tabular: ${model} takes ${input[1]} features per row (input shape ${shapeText(input)}), but features names ${features.length} (${preview(features)}). List the model's ${input[1]} features, in the order of its input vector.`);
    } else if (input && input.length !== 2) {
      problems.push(`InferenceTask.tabular: ${model} has an input of shape ${shapeText(input)}, not [batch, features]. Use InferenceTask.tensor() for it.`);
    }
    for (const [prop, names] of [['labels', task.labels], ['outputNames', task.outputNames]] as const) {
      if (names && outputs !== undefined && names.length !== outputs) {
        problems.push(`InferenceTask.tabular: ${model} has ${outputs} outputs, but ${prop} names ${names.length} (${preview(names)}). Give ${outputs} ${prop}, in the order of the model's outputs.`);
      }
    }
  }
  return problems;
}

function shapeText(shape: readonly Dim[]): string {
  return `[${shape.map((d) => (d === null ? 'null' : String(d))).join(', ')}]`;
}

function preview(names: readonly string[]): string {
  const shown = names.slice(0, 5).map((n) => JSON.stringify(n)).join(', ');
  return names.length > 5 ? `${shown}, ...` : shown;
}
