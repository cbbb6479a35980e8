// The Docker build context a container or GPU function is built from: the runtime bundle,
// its lockfile, the Dockerfiles and the model, staged once per runtime and model version
// and reused by later synths, so repeated `cdk synth` runs neither copy a large model again
// nor leave a copy of it in the temp folder each time.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { layersModelDir, newStack } from './support';
import { stageDockerContext } from '../lib/private/runtime-package';

function filesUnder(dir: string, prefix = ''): string[] {
  return fs.readdirSync(path.join(dir, prefix)).sort().flatMap((name) => {
    const relative = path.join(prefix, name);
    return fs.statSync(path.join(dir, relative)).isDirectory() ? filesUnder(dir, relative) : [relative];
  });
}

describe('the Docker build context', () => {
  let stack: Stack;
  beforeEach(() => {
    stack = newStack();
  });

  test('holds the runtime bundle with its chunks, the lockfile, both Dockerfiles and the model, and no sources or tests', () => {
    const model = layersModelDir(2048);
    const dir = stageDockerContext(stack, model);
    const files = filesUnder(dir);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'dist/handler.mjs', 'docker/Dockerfile', 'docker/Dockerfile.gpu', 'model/model.json', 'model/group1-shard1of1.bin']));
    expect(files.filter((f) => f.startsWith('dist/chunks/')).length).toBeGreaterThan(0);
    expect(files.filter((f) => /^(src|test|node_modules)\//.test(f))).toEqual([]);
    expect(fs.readFileSync(path.join(dir, 'model', 'group1-shard1of1.bin'))).toEqual(fs.readFileSync(path.join(model, 'group1-shard1of1.bin')));
  });

  test('it is staged in the app\'s cloud assembly folder (cdk.out), so removing cdk.out removes it', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk.out-'));
    const dir = stageDockerContext(new Stack(new App({ outdir }), 'S'), layersModelDir());
    expect(path.relative(outdir, dir)).toMatch(/^\.serverless-tf\/context-[0-9a-f]{32}$/);
    fs.rmSync(outdir, { recursive: true, force: true });
    expect(fs.existsSync(dir)).toBe(false);
  });

  test('the same runtime and model are staged once: a later synth into the same cdk.out gets the same folder, and nothing is left beside it', () => {
    const model = layersModelDir(4096);
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk.out-'));
    const first = stageDockerContext(new Stack(new App({ outdir }), 'First'), model);
    const marker = fs.statSync(path.join(first, 'model', 'model.json')).mtimeMs;
    // A second `cdk synth`: a new app, the same output folder.
    expect(stageDockerContext(new Stack(new App({ outdir }), 'Second'), model)).toBe(first);
    // Not copied again: the staged file is the one the first synth wrote.
    expect(fs.statSync(path.join(first, 'model', 'model.json')).mtimeMs).toBe(marker);
    const siblings = fs.readdirSync(path.dirname(first)).filter((n) => n.startsWith(`${path.basename(first)}.partial-`));
    expect(siblings).toEqual([]);
  });

  test('a changed model (another size) is staged anew; a model read from S3 gets an empty model folder with a note', () => {
    const model = layersModelDir(4096);
    const before = stageDockerContext(stack, model);
    fs.appendFileSync(path.join(model, 'group1-shard1of1.bin'), Buffer.alloc(4));
    const after = stageDockerContext(stack, model);
    expect(after).not.toBe(before);
    expect(fs.statSync(path.join(after, 'model', 'group1-shard1of1.bin')).size).toBe(4100);
    const fromS3 = stageDockerContext(stack, undefined);
    expect(fs.readdirSync(path.join(fromS3, 'model'))).toEqual(['README.txt']);
  });

  test('the completion marker is in .dockerignore, so it is neither in the image nor in the asset hash', () => {
    const dir = stageDockerContext(stack, layersModelDir());
    const ignored = fs.readFileSync(path.join(dir, '.dockerignore'), 'utf8').split('\n');
    const marker = fs.readdirSync(dir).filter((n) => n.startsWith('.serverless-tf'));
    expect(marker).toHaveLength(1);
    expect(ignored).toContain(marker[0]);
  });
});
