// Converts the demo model once before the suites run (fast when it is up to date).
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export default function globalSetup(): void {
  execFileSync(process.execPath, ['scripts/convert-demo-model.mjs'], { cwd: path.join(__dirname, '..', '..'), stdio: 'inherit' });
}
