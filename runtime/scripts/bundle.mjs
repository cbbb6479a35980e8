// Bundles the runtime with esbuild into dist/handler.mjs (the Lambda entry) and
// dist/cli.mjs (serverless-tf). TensorFlow.js and sharp stay external: tfjs-node and
// tfjs-node-gpu are native, must register on the same @tensorflow/tfjs-core instance
// as our code, and the wasm backend reads its .wasm files from its own package folder.
// The warmer goes to dist/warmer/index.mjs with everything bundled, the AWS SDK too, so
// dist/warmer/ is a self-contained asset that does not depend on the SDK Lambda ships.
import { build } from 'esbuild';
import { mkdtemp, rename, rm } from 'node:fs/promises';

// Build into a fresh folder beside dist/ and swap it in, so a process reading dist/ (a
// test, a synth) never sees it half-written or missing.
const root = new URL('../', import.meta.url).pathname;
const finalDir = `${root}dist`;
const outdir = `${await mkdtemp(`${root}.dist-`)}/`;
const started = Date.now();
const common = {
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // Chunks load on first use: the AWS SDK is imported dynamically (S3 models and events only).
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  legalComments: 'linked',
  metafile: true,
  // Bundled CommonJS dependencies call require(); give ESM output a real one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  // The ES module builds (the AWS SDK's dist-es, Powertools' esm): a dynamic import() of
  // a CommonJS package gives only its `default` in a split chunk, so `const { S3Client } =
  // await import('@aws-sdk/client-s3')` would be undefined. ESM sources also tree-shake.
  mainFields: ['module', 'main'],
  logLevel: 'warning',
};
const results = await Promise.all([
  build({
    ...common,
    entryPoints: { handler: 'src/lambda.ts', cli: 'src/cli.ts' },
    outdir,
    external: ['@tensorflow/*', 'sharp'],
  }),
  build({
    ...common,
    entryPoints: { index: 'src/warmer.ts' },
    outdir: `${outdir}warmer/`,
  }),
]);
const previous = `${finalDir}.old-${process.pid}`;
await rename(finalDir, previous).catch((err) => {
  if (err.code !== 'ENOENT') throw err;
});
await rename(outdir, finalDir);
await rm(previous, { recursive: true, force: true });
const sizes = results
  .flatMap((result) => Object.entries(result.metafile.outputs))
  .filter(([file]) => file.endsWith('.mjs'))
  .map(([file, out]) => `${file.slice(file.indexOf('/', file.lastIndexOf('.dist-')) + 1)} ${(out.bytes / 1024).toFixed(0)} KiB`);
console.log(`bundle: ${sizes.join(', ')} in ${Date.now() - started} ms`);
