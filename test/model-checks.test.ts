// The task checked against the model at synth: what model.json says about the input shape
// and the output width, for the demo model (a real Keras MobileNetV2, functional) and for
// Sequential, functional and graph models written here the way TF.js and the converter
// write them. A mismatch fails `cdk synth` with the prop, the model's value, the value
// given and the change to make; what the file does not say is never an error.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import { DEMO_MODEL_DIR, newStack } from './support';
import { Compute } from '../lib/compute';
import { InferenceTask } from '../lib/inference-task';
import { Model } from '../lib/model';
import { TensorFlowFunction } from '../lib/tensorflow-function';

const DEMO_LABELS = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];

function synth(dir: string, task: InferenceTask): Template {
  const stack = newStack();
  new TensorFlowFunction(stack, 'Fn', { model: Model.fromAsset(dir), task, compute: Compute.zip() });
  return Template.fromStack(stack);
}

function modelDir(modelJson: object): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-checks-'));
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson));
  fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), Buffer.alloc(16));
  return dir;
}

const weights = [{ paths: ['group1-shard1of1.bin'], weights: [{ name: 'w', shape: [4], dtype: 'float32' }] }];

/** A Sequential model as TF.js `model.save()` writes it: Dense(units) after an input of `features`, then an activation. */
function sequentialTabular(features: number, units: number): string {
  return modelDir({
    format: 'layers-model',
    modelTopology: {
      class_name: 'Sequential',
      config: {
        name: 'iris',
        layers: [
          { class_name: 'Dense', config: { units: 8, activation: 'relu', name: 'hidden', batch_input_shape: [null, features] } },
          { class_name: 'Dense', config: { units, activation: 'linear', name: 'logits' } },
          { class_name: 'Activation', config: { activation: 'softmax', name: 'probabilities' } },
        ],
      },
    },
    weightsManifest: weights,
  });
}

/** A graph model as tensorflowjs_converter writes one with a serving signature. */
function graphModel(input: (number | string)[], output: (number | string)[]): string {
  const dim = (sizes: (number | string)[]) => ({ dim: sizes.map((size) => ({ size: String(size) })) });
  return modelDir({
    format: 'graph-model',
    generatedBy: '2.15.0',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    signature: {
      inputs: { 'images:0': { name: 'images:0', dtype: 'DT_FLOAT', tensorShape: dim(input) } },
      outputs: { 'Identity:0': { name: 'Identity:0', dtype: 'DT_FLOAT', tensorShape: dim(output) } },
    },
    modelTopology: { node: [{ name: 'images', op: 'Placeholder' }], library: {}, versions: { producer: 1 } },
    weightsManifest: weights,
  });
}

describe('image classification against the demo model (224x224x3 in, 5 classes out)', () => {
  test('the right labels and input size synthesize', () => {
    const template = synth(DEMO_MODEL_DIR, InferenceTask.imageClassification({ inputSize: 224, alignCorners: true, labels: DEMO_LABELS }));
    template.resourceCountIs('AWS::Lambda::Alias', 1);
  });

  test('no labels (class indices) synthesizes', () => {
    expect(() => synth(DEMO_MODEL_DIR, InferenceTask.imageClassification({ inputSize: 224 }))).not.toThrow();
  });

  test('two labels on the five-class model fail, asking for five', () => {
    expect(() => synth(DEMO_MODEL_DIR, InferenceTask.imageClassification({ inputSize: 224, labels: ['cat', 'dog'] })))
      .toThrow(/scores 5 classes, but labels names 2 \("cat", "dog"\)\. Give 5 labels, in the order of the model's outputs, or omit labels/);
  });

  test('inputSize 299 on the 224 model fails, naming the size to set', () => {
    expect(() => synth(DEMO_MODEL_DIR, InferenceTask.imageClassification({ inputSize: 299, labels: DEMO_LABELS })))
      .toThrow(/takes 224x224 images \(input shape \[null, 224, 224, 3\]\), but the task resizes to 299x299\. Set inputSize: 224\./);
  });

  test('greyscale on the RGB model fails, naming the channels to set', () => {
    expect(() => synth(DEMO_MODEL_DIR, InferenceTask.imageClassification({ inputSize: 224, channels: 1 })))
      .toThrow(/takes 3 colour channels, but channels is 1\. Set channels: 3\./);
  });

  test('both problems are reported at once', () => {
    expect(() => synth(DEMO_MODEL_DIR, InferenceTask.imageClassification({ inputSize: 299, labels: ['a'] })))
      .toThrow(/resizes to 299x299.*scores 5 classes/);
  });
});

describe('tabular against a Sequential model (Dense -> Dense(3) -> softmax)', () => {
  const features = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

  test('four features and three labels synthesize; the output width is found through the Activation layer', () => {
    expect(() => synth(sequentialTabular(4, 3), InferenceTask.tabular({ features, labels: ['setosa', 'versicolor', 'virginica'] }))).not.toThrow();
  });

  test('a feature count that differs from the input width fails', () => {
    expect(() => synth(sequentialTabular(4, 3), InferenceTask.tabular({ features: features.slice(0, 3) })))
      .toThrow(/takes 4 features per row \(input shape \[null, 4\]\), but features names 3 \("sepal_length", "sepal_width", "petal_length"\)\. List the model's 4 features/);
  });

  test('labels that differ from the output width fail', () => {
    expect(() => synth(sequentialTabular(4, 3), InferenceTask.tabular({ features, labels: ['setosa', 'other'] })))
      .toThrow(/has 3 outputs, but labels names 2/);
  });

  test('outputNames that differ from the output width fail', () => {
    expect(() => synth(sequentialTabular(4, 1), InferenceTask.tabular({ features, outputNames: ['price', 'error'] })))
      .toThrow(/has 1 outputs, but outputNames names 2 \("price", "error"\)\. Give 1 outputNames/);
  });
});

describe('graph models: the serving signature', () => {
  test('a matching signature synthesizes, and a free batch dimension (-1) is no constraint', () => {
    expect(() => synth(graphModel([-1, 160, 160, 3], [-1, 2]), InferenceTask.imageClassification({ inputSize: 160, labels: ['cat', 'dog'] }))).not.toThrow();
  });

  test('a wrong input size fails, and a non-square model asks for inputHeight and inputWidth', () => {
    expect(() => synth(graphModel([-1, 240, 320, 3], [-1, 2]), InferenceTask.imageClassification({ inputSize: 224 })))
      .toThrow(/takes 240x320 images.*Set inputHeight: 240, inputWidth: 320\./);
  });

  test('wrong labels fail', () => {
    expect(() => synth(graphModel([-1, 160, 160, 3], [-1, 1000]), InferenceTask.imageClassification({ inputSize: 160, labels: ['cat', 'dog'] })))
      .toThrow(/scores 1000 classes, but labels names 2/);
  });

  test('free spatial dimensions accept any input size', () => {
    expect(() => synth(graphModel([-1, -1, -1, 3], [-1, 2]), InferenceTask.imageClassification({ inputSize: 299, labels: ['cat', 'dog'] }))).not.toThrow();
  });

  test('a model that is not an image model is refused for image classification, pointing at the tensor task', () => {
    expect(() => synth(graphModel([-1, 4], [-1, 3]), InferenceTask.imageClassification({ inputSize: 224 })))
      .toThrow(/has an input of shape \[null, 4\], not \[batch, height, width, channels\]\. Use InferenceTask\.tensor\(\)/);
  });

  test('a graph model without a signature is not checked', () => {
    const dir = modelDir({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: weights });
    expect(() => synth(dir, InferenceTask.imageClassification({ inputSize: 224, labels: ['a', 'b'] }))).not.toThrow();
  });
});

describe('Keras 3 layouts (batch_shape, a bare output triple, keras_history inbound nodes)', () => {
  function keras3(units: number): string {
    return modelDir({
      format: 'layers-model',
      modelTopology: {
        model_config: {
          class_name: 'Functional',
          config: {
            name: 'k3',
            layers: [
              { class_name: 'InputLayer', name: 'image', config: { name: 'image', batch_shape: [null, 96, 96, 3] }, inbound_nodes: [] },
              { class_name: 'Dense', name: 'head', config: { name: 'head', units }, inbound_nodes: [{ args: [{ class_name: '__keras_tensor__', config: { keras_history: ['image', 0, 0] } }], kwargs: {} }] },
              { class_name: 'Softmax', name: 'probs', config: { name: 'probs' }, inbound_nodes: [{ args: [{ class_name: '__keras_tensor__', config: { keras_history: ['head', 0, 0] } }], kwargs: {} }] },
            ],
            input_layers: ['image', 0, 0],
            output_layers: ['probs', 0, 0],
          },
        },
      },
      weightsManifest: weights,
    });
  }

  test('the input size and the output width are read', () => {
    expect(() => synth(keras3(3), InferenceTask.imageClassification({ inputSize: 96, labels: ['a', 'b', 'c'] }))).not.toThrow();
    expect(() => synth(keras3(3), InferenceTask.imageClassification({ inputSize: 128, labels: ['a', 'b'] })))
      .toThrow(/takes 96x96 images.*Set inputSize: 96\..*scores 3 classes, but labels names 2/);
  });
});
