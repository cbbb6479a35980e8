// Folders the constructs write at synth time (Docker build contexts, model folders, the zip
// entry), each named after what it holds so that later synths reuse it, and each written under
// a temporary name and renamed into place, so that a concurrent synth never sees half of one.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Stage } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Written last into a staged folder: the folder is whole. Docker contexts leave it out (.dockerignore). */
export const COMPLETE_MARKER = '.serverless-tf-staged';

/**
 * The folder of staged folders in the app's cloud assembly (`cdk.out/.serverless-tf`; CDK's
 * own entries there are `asset.*`, `*.template.json` and manifests), or in the OS temp folder
 * for a construct outside any app. Removing cdk.out removes the copies too.
 */
export function assemblyStagingDir(scope: IConstruct): string {
  const root = scope.node.root;
  return path.join(Stage.isStage(root) ? root.outdir : os.tmpdir(), '.serverless-tf');
}

/**
 * `target`, made by `build` (which fills the empty folder it is given) unless a whole one is
 * already there; when another process finishes the same folder first, that one is used.
 */
export function stageFolder(target: string, build: (dir: string) => void): string {
  if (fs.existsSync(path.join(target, COMPLETE_MARKER))) return target;
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const building = fs.mkdtempSync(`${target}.partial-`);
  try {
    build(building);
    fs.writeFileSync(path.join(building, COMPLETE_MARKER), '');
    // A folder there without the marker was left by an older version (a whole one always has it).
    if (fs.existsSync(target) && !fs.existsSync(path.join(target, COMPLETE_MARKER))) fs.rmSync(target, { recursive: true, force: true });
    try {
      fs.renameSync(building, target);
    } catch (err) {
      // Another synth staged the same content first: use its folder.
      if (!fs.existsSync(path.join(target, COMPLETE_MARKER))) throw err;
    }
  } finally {
    fs.rmSync(building, { recursive: true, force: true });
  }
  return target;
}
