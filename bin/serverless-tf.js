#!/usr/bin/env node
// Entry point of `npx serverless-tf`: runs the bundled runtime CLI (serve, demo, predict).
// The runtime is ESM with top-level await, so it is imported rather than required. What
// the bundle leaves external (TensorFlow.js, its wasm backend, sharp) comes from this
// package's optional dependencies; say how to get them when they are missing.
const path = require('path');
const { pathToFileURL } = require('url');
const cli = path.join(__dirname, '..', 'runtime', 'dist', 'cli.mjs');
const EXTERNAL = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'sharp'];

import(pathToFileURL(cli).href).catch((err) => {
  const message = String(err && err.message ? err.message : err);
  const missing = err && err.code === 'ERR_MODULE_NOT_FOUND' ? EXTERNAL.find((name) => message.includes(`'${name}'`)) : undefined;
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && message.includes('cli.mjs')) {
    console.error('serverless-tf: the runtime is not built yet. In a checkout of cdk-serverless-tensorflow, run `npx projen runtime:build` first.');
  } else if (missing) {
    const { optionalDependencies } = require('../package.json');
    const specs = EXTERNAL.map((name) => `${name}@${optionalDependencies[name]}`).join(' ');
    console.error(`serverless-tf: ${missing} is not installed. serve and demo run TensorFlow.js here; it comes with cdk-serverless-tensorflow as an optional dependency, left out by \`npm install --omit=optional\` (or a failed optional install). Install them: npm install ${specs}`);
  } else {
    console.error(`serverless-tf: ${message}`);
  }
  process.exitCode = 1;
});
