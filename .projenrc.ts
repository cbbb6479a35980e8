import { awscdk, javascript } from 'projen';

// The construct library (jsii, sources in lib/ beside their compiled output, as in
// aws-cdk-lib) plus the Lambda runtime in runtime/, which is its own npm package
// with its own lockfile, bundled by esbuild and staged by the constructs.
const project = new awscdk.AwsCdkConstructLibrary({
  author: 'cdk-serverless-tensorflow team',
  authorAddress: 'team@example.com',
  cdkVersion: '2.276.0',
  constructsVersion: '10.5.1',
  defaultReleaseBranch: 'main',
  jsiiVersion: '~6.0.0',
  name: 'cdk-serverless-tensorflow',
  description: 'AWS CDK constructs that run TensorFlow inference on AWS Lambda: CPU containers, GPU Lambda Managed Instances, or zip + layers.',
  keywords: ['cdk', 'aws-cdk', 'awscdk', 'lambda', 'tensorflow', 'tfjs', 'inference', 'machine-learning', 'serverless'],
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  repositoryUrl: 'https://github.com/example/cdk-serverless-tensorflow.git',
  srcdir: 'lib',
  libdir: 'lib',
  // CI is .ci/run on a clean clone, not GitHub Actions.
  github: false,
  release: false,
  bin: { 'serverless-tf': 'bin/serverless-tf.js' },
  // jsii's Python target: `package:python` writes dist/python/*.whl; the test of the Python
  // example app (test/python-app.test.ts) builds and installs it (scripts/python-app.mjs).
  publishToPypi: { distName: 'cdk-serverless-tensorflow', module: 'cdk_serverless_tensorflow' },
  jestOptions: {
    // Snapshots must be able to fail: `test` never rewrites them, `test:update` does.
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/runtime/'],
      coveragePathIgnorePatterns: ['/node_modules/', '<rootDir>/runtime/'],
      watchPathIgnorePatterns: ['/node_modules/', '<rootDir>/runtime/'],
      modulePathIgnorePatterns: ['<rootDir>/runtime/', '<rootDir>/cdk.out/'],
      // lib/*.ts sits beside its compiled lib/*.js: tests must run the sources.
      moduleFileExtensions: ['ts', 'tsx', 'js', 'json', 'node'],
      // One temporary folder per run, removed at the end (test/global-setup.ts).
      globalSetup: '<rootDir>/test/global-setup.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
    },
  },
  tsconfig: {
    compilerOptions: {
      // runtime/ has its own tsconfig; the library must not compile it.
    },
    exclude: ['runtime', 'examples', 'bench'],
  },
  gitignore: [
    '/lib/**/*.js',
    '/lib/**/*.d.ts',
    '/runtime/node_modules/',
    '/runtime/dist/',
    '/runtime/.dist-*',
    '/runtime/models/',
    '/runtime/coverage/',
    '/runtime/layer/',
    '/runtime/.layer-cache/',
    '/runtime/.bench-support.cjs',
    '/cdk.out/',
    '/.bench/',
  ],
  npmignoreEnabled: true,
  devDeps: ['cdk-nag@^3.0.2', 'aws-cdk@^2.1148.1'],
});

// srcdir == libdir: keep the sources, ignore only the compiled output (set above).
project.gitignore.removePatterns('/lib');
project.npmignore?.removePatterns('/lib');
project.npmignore?.addPatterns(
  '/lib/**/*.ts',
  '!/lib/**/*.d.ts',
  '/runtime/node_modules/',
  '/runtime/test/',
  '/runtime/coverage/',
  '/runtime/.layer-cache/',
  '/runtime/bench/',
  '/runtime/scripts/',
  '/runtime/src/',
  '/runtime/tsconfig.json',
  '/runtime/**/*.map',
  '/bench/',
  '/examples/',
  '/.ci/',
  '/.bench/',
  '!/runtime/dist/',
  // The demo model (converted from nsfwjs, MIT) for `npx serverless-tf demo`, and the
  // prebuilt runtime layer archives Compute.zip() deploys.
  '!/runtime/models/mobilenet_v2/',
  '!/runtime/layer/',
);

// What the bundled runtime leaves external, for `npx serverless-tf` (serve, demo) from the
// installed package: optional, so that `npm i --omit=optional` keeps a constructs-only
// install small, and so jsii (which reads dependencies and peerDependencies) ignores them.
// The versions are the runtime's (runtime/package.json). projen's deps do not render
// optional dependencies into package.json, hence the field.
project.package.addField('optionalDependencies', {
  '@tensorflow/tfjs': '4.22.0',
  '@tensorflow/tfjs-backend-wasm': '4.22.0',
  'sharp': '^0.35.5',
});

// ---- runtime/ : its own package, built and tested from here -------------------------
const runtimeInstall = project.addTask('runtime:install', {
  description: 'Install the runtime package (runtime/) from its lockfile',
  // Skip when runtime/node_modules is newer than the lockfile.
  condition: '[ ! runtime/node_modules/.package-lock.json -nt runtime/package-lock.json ]',
  exec: 'npm ci --prefix runtime --no-audit --no-fund',
});
const runtimeBuild = project.addTask('runtime:build', {
  description: 'Type-check and bundle the runtime with esbuild; convert the demo model',
});
runtimeBuild.spawn(runtimeInstall);
// The production CPU backend (tfjs-node) built against the TensorFlow C API of a PyPI
// tensorflow-cpu wheel, cached on the machine: its install script's download host is out of
// reach here. Cheap when cached (about 1-3 s after npm ci; 23 s from nothing).
const runtimeNative = project.addTask('runtime:native', {
  description: 'Build and install @tensorflow/tfjs-node against libtensorflow from a tensorflow-cpu wheel (cached)',
  exec: 'node runtime/scripts/native-backend.mjs',
});
runtimeBuild.spawn(runtimeNative);
runtimeBuild.exec('npm --prefix runtime run typecheck');
runtimeBuild.exec('npm --prefix runtime run bundle');
runtimeBuild.exec('npm --prefix runtime run demo-model');
// The prebuilt layer archives of zip functions (runtime/layer/linux-{x64,arm64}.zip):
// synth copies them instead of running npm.
runtimeBuild.exec('npm --prefix runtime run layer');
const runtimeTest = project.addTask('runtime:test', {
  description: 'Run the runtime tests (real inference on the wasm backend)',
  exec: 'npm --prefix runtime test --',
  receiveArgs: true,
});
project.preCompileTask.spawn(runtimeBuild);

// The library's jest runs construct tests; the runtime's tests run in its own package.
project.testTask.spawn(runtimeTest);

const demo = project.addTask('demo', {
  description: 'Classify the sample photographs with the demo model (add --serve to keep serving)',
  receiveArgs: true,
});
demo.spawn(runtimeBuild);
demo.exec('node bin/serverless-tf.js demo', { receiveArgs: true });

project.addTask('bench', {
  description: 'Run the benchmarks and write BENCHMARKS.md',
  exec: 'npm --prefix runtime run bench',
}).prependSpawn(runtimeBuild);

// jsii cannot redeclare inherited props to document our defaults: write them into API.md.
project.tasks.tryFind('docgen')?.exec('ts-node --project projenrc/tsconfig.json projenrc/api-md-defaults.ts');

// cfn-lint (PyPI, pinned) in a venv cached on the machine, for test/cfn-lint.test.ts.
const pythonTools = project.addTask('python-tools', {
  description: 'Set up the pinned cfn-lint in a virtual environment in the machine cache (test/cfn-lint.test.ts)',
  exec: 'node scripts/python-tools.mjs',
});
project.testTask.prependSpawn(pythonTools);
// tritonclient[http] and KServe's Python client (PyPI, pinned) for the runtime's protocol
// tests, set up before them (about 90 s the first time, cached): the tests would set it up
// themselves, inside their timeouts.
const protocolClients = project.addTask('python-tools:protocol-clients', {
  description: 'Set up the pinned tritonclient[http] and KServe Python clients in a virtual environment in the machine cache (runtime/test/protocols-binary.test.ts)',
  exec: 'node scripts/python-tools.mjs --set protocol-clients',
});
runtimeTest.prependSpawn(protocolClients);
// The demo model as Python TensorFlow 2.15 writes it (.h5, .keras, SavedModel, and their
// tensorflowjs_converter outputs) with Python TF's answers for the sample photos, in a
// pinned venv cached on the machine (about 3-5 min the first time, under 1 s cached), for
// runtime/test/reference-models.test.ts, test/model-conversion.test.ts and the benchmarks.
const referenceModels = project.addTask('reference-models', {
  description: 'Make the demo model a Keras file and a SavedModel with a pinned Python TensorFlow, with its reference answers (cached in the machine cache)',
  exec: 'node runtime/scripts/reference-models.mjs',
});
project.testTask.prependSpawn(referenceModels);
runtimeTest.prependSpawn(referenceModels);
// Set-up scripts of this repository's tests: not part of the package.
project.npmignore?.addPatterns('/scripts/');

project.synth();
