// Once after the suites: removes the run's temporary folder (see global-setup.ts).
import { rmSync } from 'node:fs';

export default function globalTeardown(): void {
  const dir = process.env.SERVERLESS_TF_TESTS_TMPDIR;
  if (dir) rmSync(dir, { recursive: true, force: true });
}
