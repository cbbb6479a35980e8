// Bundles the runtime with esbuild into dist/handler.mjs (the Lambda entry) and
// dist/cli.mjs (serverless-tf). TensorFlow.js and sharp stay external: tfjs-node and
// tfjs-node-gpu are native, must register on the same @tensorflow/tfjs-core instance
// as our code, and the wasm backend reads its .wasm files from its own package folder.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';

const outdir = new URL('../dist/', import.meta.url).pathname;
await rm(outdir, { recursive: true, force: true });
const started = Date.now();
const result = await build({
  entryPoints: { handler: 'src/lambda.ts', cli: 'src/cli.ts' },
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  splitting: false,
  sourcemap: 'linked',
  legalComments: 'linked',
  metafile: true,
  external: ['@tensorflow/*', 'sharp'],
  // Bundled CommonJS dependencies call require(); give ESM output a real one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});
const sizes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith('.mjs'))
  .map(([file, out]) => `${file.split('/').pop()} ${(out.bytes / 1024).toFixed(0)} KiB`);
console.log(`bundle: ${sizes.join(', ')} in ${Date.now() - started} ms`);
