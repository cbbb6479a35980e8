// Model.fromAsset of a TF.js model file of another name than model.json (human-models ship
// `blazeface.json` beside forty other models in one folder): stages a folder that holds that
// file as model.json and the weight files it lists, nothing else, so the function gets one
// model and not the whole folder, and the runtime and the synth-time checks read a plain
// model folder.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { IConstruct } from 'constructs';
import { assemblyStagingDir, stageFolder } from './staging';
import { TensorFlowValidationError } from './validation-error';

/** What a model file says about itself, read at synth time. */
export interface ModelFileContents {
  /** 'graph' or 'layers', as the runtime detects it. */
  readonly format: 'graph' | 'layers';
  /** The weight files it lists, relative to its folder. */
  readonly weightPaths: readonly string[];
}


/**
 * Reads and checks a TF.js model file: a TensorFlowValidationError that says what the file is
 * when it is not a model (a weights manifest, not JSON, no modelTopology) or lists weights
 * that are missing or outside its folder.
 */
export function readModelFile(scope: IConstruct, file: string): ModelFileContents {
  const where = `Model.fromAsset: ${file}`;
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    throw new TensorFlowValidationError(scope, `${where} is not a file. Give the TF.js model file (its .json) or the folder that holds model.json.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TensorFlowValidationError(scope, `${where} is not valid JSON (${(err as Error).message}): give a TF.js model file (tensorflowjs_converter output, or model.save() in TF.js).`);
  }
  if (Array.isArray(json)) {
    throw new TensorFlowValidationError(scope, `${where} is a TF.js weights manifest, not a model file: it lists weight shards but has no "modelTopology", the network that uses them `
      + '(face-api.js builds its networks in JavaScript and ships only such manifests). Convert the original model with tensorflowjs_converter, or build it with that library and save it with model.save(), and give that model file.');
  }
  const model = json as { format?: unknown; modelTopology?: unknown; weightsManifest?: unknown };
  if (typeof model !== 'object' || model === null || typeof model.modelTopology !== 'object' || model.modelTopology === null) {
    throw new TensorFlowValidationError(scope, `${where} has no "modelTopology" object: it is not a TF.js graph or layers model file.`);
  }
  const topology = model.modelTopology as Record<string, unknown>;
  const format = model.format === 'graph-model' || 'node' in topology ? 'graph' : 'layers';
  const manifest = Array.isArray(model.weightsManifest) ? model.weightsManifest as { paths?: unknown }[] : [];
  const weightPaths = manifest.flatMap((group) => (Array.isArray(group?.paths) ? group.paths : []))
    .filter((p): p is string => typeof p === 'string');
  const dir = path.dirname(file);
  for (const weightPath of weightPaths) {
    if (weightPath === '' || path.isAbsolute(weightPath) || weightPath.split(/[\\/]/).includes('..')) {
      throw new TensorFlowValidationError(scope, `${where} lists the weight file ${JSON.stringify(weightPath)}, outside its folder: weight paths must be relative paths inside ${dir}, without "..".`);
    }
    if (!fs.existsSync(path.join(dir, weightPath))) {
      throw new TensorFlowValidationError(scope, `${where} lists the weight file ${weightPath}, which is not in ${dir}. Copy the model's weight files beside it.`);
    }
  }
  return { format, weightPaths };
}

/**
 * A folder holding `file` as model.json and its weight files, in the app's cloud assembly
 * folder (cdk.out/.serverless-tf/), named after a fingerprint of the files (names, sizes and
 * modification times), so later synths reuse it; written under a temporary name and renamed
 * into place, so a concurrent synth never sees half of it.
 */
export function stageModelFile(scope: IConstruct, file: string, weightPaths: readonly string[]): string {
  const dir = path.dirname(file);
  const hash = crypto.createHash('sha256').update(`model-file:${file}\0`);
  for (const f of [path.basename(file), ...weightPaths]) {
    const stat = fs.statSync(path.join(dir, f));
    hash.update(`${f}\0${stat.size}\0${stat.mtimeMs}\0`);
  }
  return stageFolder(path.join(assemblyStagingDir(scope), `model-${hash.digest('hex').slice(0, 32)}`), (building) => {
    fs.copyFileSync(file, path.join(building, 'model.json'));
    for (const weightPath of weightPaths) {
      fs.mkdirSync(path.dirname(path.join(building, weightPath)), { recursive: true });
      fs.copyFileSync(path.join(dir, weightPath), path.join(building, weightPath));
    }
  });
}
