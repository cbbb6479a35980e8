// The backend `auto` chooses, in a file of its own: a process has one backend, and jest gives
// each test file its own module registry, so the choice here does not bind the other files.
import { initBackend } from '../src/backend';
import { autoBackendHere } from './support/models';

test('auto passes over tensorflow-gpu without a GPU, then takes tensorflow when tfjs-node loads, else wasm, and says why', async () => {
  const logs: { msg: string; extra?: object }[] = [];
  const choice = await initBackend('auto', (msg, extra) => logs.push({ msg, extra }));
  expect(choice.reason).toMatch(/tensorflow-gpu: no GPU visible/);
  if (autoBackendHere() === 'tensorflow') {
    expect(choice).toMatchObject({ name: 'tensorflow', native: true });
  } else {
    expect(choice).toMatchObject({ name: 'wasm', native: false });
    expect(choice.reason).toMatch(/tensorflow: .*tfjs-node/);
  }
  expect(logs).toEqual([{ msg: 'TensorFlow backend chosen', extra: choice }]);
});

test('a process has one backend: forcing another one after the choice is an error that names both', async () => {
  const choice = await initBackend('auto');
  const other = choice.name === 'wasm' ? 'cpu' : 'wasm';
  await expect(initBackend(other)).rejects.toThrow(`This process already runs on the '${choice.name}' backend`);
  await expect(initBackend(choice.name)).resolves.toEqual(choice);
});
