// Where a model comes from: a folder baked into the function at deploy time, or an S3
// prefix read at init (and cached in /tmp). Format and size are known at synth time
// where possible, so the function can be sized and impossible combinations refused.
import * as fs from 'fs';
import * as path from 'path';
import { Size, SizeRoundingBehavior, Token } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { convertModel, pathSize } from './private/model-conversion';
import { readModelFile, stageModelFile } from './private/model-file';
import { TensorFlowValidationError } from './private/validation-error';

/**
 * The format of a model's files.
 */
export enum ModelFormat {
  /** Detected from the files: model.json's "format", or saved_model.pb. */
  AUTO = 'auto',
  /** A TF.js graph model (tensorflowjs_converter output): model.json + weight shards. */
  GRAPH = 'graph',
  /** A TF.js layers model (Keras converted, or saved by TF.js): model.json + weight shards. */
  LAYERS = 'layers',
  /** A TensorFlow SavedModel: needs the native backend (container or GPU compute). */
  SAVED_MODEL = 'saved_model',
}

/**
 * Options for a model in a local folder.
 */
export interface ModelAssetOptions {
  /**
   * The model's format.
   *
   * @default ModelFormat.AUTO - detected at synth time from the folder's files
   */
  readonly format?: ModelFormat;
}

/**
 * Options for a model read from S3.
 */
export interface ModelBucketOptions {
  /**
   * The model's format. Give it when it is a SavedModel, so synth can refuse packagings
   * that cannot load one.
   *
   * @default ModelFormat.AUTO - detected by the runtime at init
   */
  readonly format?: ModelFormat;

  /**
   * The model's total size. Used to size memory and /tmp (the model is downloaded there
   * once per execution environment). A size from a token counts as unknown.
   *
   * @default - unknown: memory 2048 MiB and 2 GiB of ephemeral storage unless set on the function
   */
  readonly size?: Size;
}

/**
 * What a model resolves to when a function uses it.
 */
export interface ModelConfig {
  /** The model's format, detected where the files are at hand. */
  readonly format: ModelFormat;
  /**
   * The model's size in bytes, when known at synth time.
   *
   * @default - unknown (a model in S3 without a size hint)
   */
  readonly sizeBytes?: number;
  /**
   * The local folder, for models packaged with the function.
   *
   * @default - none: the model is read from S3
   */
  readonly localPath?: string;
  /**
   * The bucket, for models read at init.
   *
   * @default - none: the model is packaged with the function
   */
  readonly bucket?: s3.IBucket;
  /**
   * The key prefix in the bucket, ending in '/'.
   *
   * @default - none: the model is packaged with the function
   */
  readonly prefix?: string;
}

/**
 * A TensorFlow model for a TensorFlowFunction.
 */
export abstract class Model {
  /**
   * A model in a local folder: baked into the image (container and GPU compute), or a
   * layer (zip compute).
   *
   * A TF.js model file of another name than model.json (`models/blazeface.json`) is staged
   * alone with the weight files it lists, as model.json in a folder of its own.
   *
   * A Keras file (`.h5`, `.hdf5` or `.keras`) is converted to a TF.js layers model at synth
   * time, for every compute: `tensorflowjs_converter` when it is on PATH, else the converter in
   * a pinned Python image with Docker. On `Compute.zip()` a SavedModel is converted the same
   * way, to a TF.js graph model; on container and GPU compute it is loaded as it is.
   *
   * @param modelPath folder holding model.json and its weight shards, or a SavedModel; or the path of a TF.js model file (.json); or a Keras file (.h5, .keras)
   */
  public static fromAsset(modelPath: string, options: ModelAssetOptions = {}): Model {
    if (/\.json$/i.test(modelPath)) return new ModelFileAsset(path.resolve(modelPath), options);
    if (KERAS_FILE.test(modelPath)) return new KerasFileAsset(path.resolve(modelPath), options);
    return new AssetModel(path.resolve(modelPath), options);
  }

  /**
   * A model under an S3 prefix, downloaded at init into /tmp and reused for the life of
   * the execution environment. The function may read that prefix and nothing else.
   *
   * @param prefix key prefix of the model's folder, e.g. 'models/mobilenet/v3/'
   */
  public static fromBucket(bucket: s3.IBucket, prefix: string, options: ModelBucketOptions = {}): Model {
    return new BucketModel(bucket, prefix, options);
  }

  /** Resolves the model for a function in `scope`. */
  public abstract bind(scope: IConstruct): ModelConfig;
}

class AssetModel extends Model {
  public constructor(private readonly dir: string, private readonly options: ModelAssetOptions) {
    super();
  }

  public bind(scope: IConstruct): ModelConfig {
    if (!fs.existsSync(this.dir) || !fs.statSync(this.dir).isDirectory()) {
      throw new TensorFlowValidationError(scope, `Model.fromAsset: ${this.dir} is not a folder. Give the folder that holds model.json (TF.js) or saved_model.pb (SavedModel), or the path of a TF.js model file (.json).`);
    }
    const detected = detectFormat(this.dir);
    if (!detected) {
      const keras = fs.readdirSync(this.dir).filter((f) => KERAS_FILE.test(f));
      const hint = keras.length > 0 ? ` It holds the Keras file ${keras.map((f) => path.join(this.dir, f)).join(', ')}: give that file's path to Model.fromAsset (converted at synth).` : '';
      throw new TensorFlowValidationError(scope, `Model.fromAsset: ${this.dir} has neither model.json nor saved_model.pb. Convert the model with tensorflowjs_converter, or point at the SavedModel folder.${hint}`);
    }
    const format = this.options.format ?? ModelFormat.AUTO;
    if (format !== ModelFormat.AUTO && format !== detected) {
      throw new TensorFlowValidationError(scope, `Model.fromAsset: format ${format} was given, but ${this.dir} holds a ${detected} model. Remove the format option or fix it.`);
    }
    return { format: detected, sizeBytes: folderSize(this.dir), localPath: this.dir };
  }
}

/** A TF.js model file of any name, staged with its weights as a model folder. */
class ModelFileAsset extends Model {
  public constructor(private readonly file: string, private readonly options: ModelAssetOptions) {
    super();
  }

  public bind(scope: IConstruct): ModelConfig {
    const contents = readModelFile(scope, this.file);
    const detected = contents.format === 'graph' ? ModelFormat.GRAPH : ModelFormat.LAYERS;
    const format = this.options.format ?? ModelFormat.AUTO;
    if (format !== ModelFormat.AUTO && format !== detected) {
      throw new TensorFlowValidationError(scope, `Model.fromAsset: format ${format} was given, but ${this.file} is a ${detected} model. Remove the format option or fix it.`);
    }
    const localPath = stageModelFile(scope, this.file, contents.weightPaths);
    return { format: detected, sizeBytes: folderSize(localPath), localPath };
  }
}

/** What a Keras file is called: HDF5 (Keras 2's `model.save('m.h5')`) or the Keras v3 zip. */
const KERAS_FILE = /\.(h5|hdf5|keras)$/i;

/** A Keras file, converted at synth time to a TF.js layers model (TF.js cannot read Keras files). */
class KerasFileAsset extends Model {
  public constructor(private readonly file: string, private readonly options: ModelAssetOptions) {
    super();
  }

  public bind(scope: IConstruct): ModelConfig {
    if (!fs.existsSync(this.file) || !fs.statSync(this.file).isFile()) {
      throw new TensorFlowValidationError(scope, `Model.fromAsset: ${this.file} is not a file. Give the path of the Keras file (model.save('model.keras') or model.save('model.h5') in Python).`);
    }
    const format = this.options.format ?? ModelFormat.AUTO;
    if (format !== ModelFormat.AUTO && format !== ModelFormat.LAYERS) {
      throw new TensorFlowValidationError(scope, `Model.fromAsset: format ${format} was given, but ${this.file} is a Keras file, which is converted to a TF.js layers model. Remove the format option or give ModelFormat.LAYERS.`);
    }
    const localPath = convertModel(scope, this.file, /\.keras$/i.test(this.file) ? 'keras-v3' : 'keras-h5');
    return { format: ModelFormat.LAYERS, sizeBytes: pathSize(localPath), localPath };
  }
}

class BucketModel extends Model {
  public constructor(private readonly bucket: s3.IBucket, private readonly prefix: string, private readonly options: ModelBucketOptions) {
    super();
  }

  public bind(scope: IConstruct): ModelConfig {
    if (!Token.isUnresolved(this.prefix) && (this.prefix.startsWith('/') || this.prefix.includes('..') || this.prefix.includes('*'))) {
      throw new TensorFlowValidationError(scope, `Model.fromBucket: prefix "${this.prefix}" must be a plain key prefix such as "models/resnet/v2/" (no leading '/', '..' or '*').`);
    }
    const prefix = Token.isUnresolved(this.prefix) || this.prefix === '' || this.prefix.endsWith('/') ? this.prefix : `${this.prefix}/`;
    const size = this.options.size;
    return {
      format: this.options.format ?? ModelFormat.AUTO,
      // A size from a token is unknown at synth time, as if none were given (and only
      // Size.bytes of a token converts at all).
      sizeBytes: size && !size.isUnresolved() ? size.toBytes({ rounding: SizeRoundingBehavior.FLOOR }) : undefined,
      bucket: this.bucket,
      prefix,
    };
  }
}

function detectFormat(dir: string): ModelFormat | undefined {
  if (fs.existsSync(path.join(dir, 'saved_model.pb'))) return ModelFormat.SAVED_MODEL;
  const modelJson = path.join(dir, 'model.json');
  if (!fs.existsSync(modelJson)) return undefined;
  const json = JSON.parse(fs.readFileSync(modelJson, 'utf8')) as { format?: string; modelTopology?: Record<string, unknown> };
  if (json.format === 'graph-model' || (json.modelTopology && 'node' in json.modelTopology)) return ModelFormat.GRAPH;
  return ModelFormat.LAYERS;
}

function folderSize(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? folderSize(p) : fs.statSync(p).size;
  }
  return total;
}
