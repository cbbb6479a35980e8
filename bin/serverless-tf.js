#!/usr/bin/env node
// Entry point of `npx serverless-tf`: runs the bundled runtime CLI (serve, demo, predict).
// The runtime is ESM with top-level await, so it is imported rather than required.
const path = require('path');
const { pathToFileURL } = require('url');
const cli = path.join(__dirname, '..', 'runtime', 'dist', 'cli.mjs');
import(pathToFileURL(cli).href).catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('cli.mjs')) {
    console.error('serverless-tf: the runtime is not built yet. Run `npx projen runtime:build` first.');
  } else {
    console.error(`serverless-tf: ${err && err.message ? err.message : err}`);
  }
  process.exitCode = 1;
});
