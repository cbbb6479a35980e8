// Once before the construct tests: every temporary folder they make (model folders, Docker
// build contexts, the cdk.out of each synthesized App) goes under one folder of this run,
// which global-teardown.ts removes, so test runs do not fill the machine's temp folder.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export default function globalSetup(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serverless-tf-tests-'));
  process.env.SERVERLESS_TF_TESTS_TMPDIR = dir;
  // os.tmpdir() reads TMPDIR; the workers jest starts after this inherit it.
  process.env.TMPDIR = dir;
}
