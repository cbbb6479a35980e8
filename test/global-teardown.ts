// Once after the construct tests: removes the run's temporary folder (see global-setup.ts).
import * as fs from 'fs';

export default function globalTeardown(): void {
  const dir = process.env.SERVERLESS_TF_TESTS_TMPDIR;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
