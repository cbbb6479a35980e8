// Once before the suites run: convert the demo model and bundle the runtime (both are
// fast when up to date), so suites that run the bundle test the current source and
// no two suites build dist/ at the same time.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export default function globalSetup(): void {
  const cwd = path.join(__dirname, '..', '..');
  execFileSync(process.execPath, ['scripts/convert-demo-model.mjs'], { cwd, stdio: 'inherit' });
  execFileSync(process.execPath, ['scripts/bundle.mjs'], { cwd, stdio: 'inherit' });
}
