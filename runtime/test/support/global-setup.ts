// Once before the suites run: convert the demo model, bundle the runtime and build the
// runtime layer archive (all fast when up to date), so suites that run the bundle test the current source and
// no two suites build dist/ at the same time. Every temporary folder the tests make
// (trained models, s3rver's store, bundle test folders) goes under one folder of this
// run, which global-teardown.ts removes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function globalSetup(): void {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'serverless-tf-runtime-tests-'));
  process.env.SERVERLESS_TF_TESTS_TMPDIR = tmp;
  // os.tmpdir() reads TMPDIR; the workers jest starts after this, and their children, inherit it.
  process.env.TMPDIR = tmp;
  const cwd = path.join(__dirname, '..', '..');
  execFileSync(process.execPath, ['scripts/convert-demo-model.mjs'], { cwd, stdio: 'inherit' });
  execFileSync(process.execPath, ['scripts/bundle.mjs'], { cwd, stdio: 'inherit' });
  // The runtime layer archive holds the bundle: rebuild it from this one (seconds, from its cache).
  execFileSync(process.execPath, ['scripts/build-layer.mjs'], { cwd, stdio: 'inherit' });
}
