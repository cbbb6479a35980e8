// Chooses the TensorFlow.js backend once per process: tensorflow-gpu (tfjs-node-gpu,
// when a GPU is visible), then tensorflow (tfjs-node, libtensorflow), then wasm, then
// cpu, unless SERVERLESS_TF_BACKEND forces one. All of them register on the same
// @tensorflow/tfjs core, so the rest of the runtime uses one `tf` namespace.
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { BackendSetting } from './config';

export type BackendName = Exclude<BackendSetting, 'auto'>;

export interface BackendChoice {
  readonly name: BackendName;
  /** Why this backend: the log says it, so an operator can tell a GPU image running on CPU. */
  readonly reason: string;
  /** True when SavedModels can be loaded (native libtensorflow only). */
  readonly native: boolean;
}

export type Tf = typeof tf;
export { tf };

const ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** True when an NVIDIA device is visible to this process. */
export function gpuVisible(env: NodeJS.ProcessEnv = process.env): boolean {
  const visible = env.NVIDIA_VISIBLE_DEVICES;
  if (visible !== undefined && ['', 'void', 'none'].includes(visible)) return false;
  return existsSync('/dev/nvidia0') || existsSync('/dev/nvidiactl');
}

async function tryActivate(name: BackendName): Promise<void> {
  switch (name) {
    case 'tensorflow-gpu':
      await import('@tensorflow/tfjs-node-gpu');
      break;
    case 'tensorflow':
      await import('@tensorflow/tfjs-node');
      break;
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      break;
    case 'cpu':
      break;
  }
  // tfjs-node and tfjs-node-gpu both register their backend as 'tensorflow'.
  const registered = name === 'tensorflow-gpu' ? 'tensorflow' : name;
  if (!(await tf.setBackend(registered))) throw new Error(`backend '${registered}' did not initialise`);
  await tf.ready();
}

let chosen: Promise<BackendChoice> | undefined;

/**
 * Activates a backend: the one asked for, or the first that works. Memoised: a process
 * has one backend. A forced backend that fails is an init error (no silent fallback).
 */
export function initBackend(setting: BackendSetting, log: (msg: string, extra?: object) => void = () => {}): Promise<BackendChoice> {
  if (chosen && setting !== 'auto') {
    // A process has one backend: asking for another one later is a mistake, not a switch.
    return chosen.then((choice) => {
      if (choice.name !== setting) throw new Error(`This process already runs on the '${choice.name}' backend (${choice.reason}); it cannot also run '${setting}': a process has one backend.`);
      return choice;
    });
  }
  chosen ??= choose(setting, log).catch((err) => {
    chosen = undefined;
    throw err;
  });
  return chosen;
}

async function choose(setting: BackendSetting, log: (msg: string, extra?: object) => void): Promise<BackendChoice> {
  if (setting !== 'auto') {
    try {
      await tryActivate(setting);
    } catch (err) {
      throw new Error(`SERVERLESS_TF_BACKEND=${setting} was requested but cannot start: ${(err as Error).message}. ${hint(setting)}`);
    }
    const choice = { name: setting, reason: 'forced by SERVERLESS_TF_BACKEND', native: isNative(setting) };
    log('TensorFlow backend chosen', choice);
    return choice;
  }
  const skipped: string[] = [];
  for (const name of ORDER) {
    if (name === 'tensorflow-gpu' && !gpuVisible()) {
      skipped.push('tensorflow-gpu: no GPU visible');
      continue;
    }
    try {
      await tryActivate(name);
      const reason = skipped.length ? `first that started (${skipped.join('; ')})` : 'first in order';
      const choice = { name, reason, native: isNative(name) };
      log('TensorFlow backend chosen', choice);
      return choice;
    } catch (err) {
      skipped.push(`${name}: ${firstLine((err as Error).message)}`);
    }
  }
  throw new Error(`No TensorFlow.js backend could start: ${skipped.join('; ')}`);
}

function isNative(name: BackendName): boolean {
  return name === 'tensorflow' || name === 'tensorflow-gpu';
}

function hint(name: BackendName): string {
  switch (name) {
    case 'tensorflow-gpu': return 'Install @tensorflow/tfjs-node-gpu (the GPU image does) and run on a host with an NVIDIA driver, CUDA 11.2 and cuDNN 8.1.';
    case 'tensorflow': return 'Install @tensorflow/tfjs-node (the CPU image does); its install script downloads libtensorflow, or, where that host is out of reach, run node runtime/scripts/native-backend.mjs (from this repository), which builds it against the TensorFlow C API of a tensorflow-cpu wheel.';
    case 'wasm': return 'Install @tensorflow/tfjs-backend-wasm.';
    default: return '';
  }
}

function firstLine(s: string): string {
  return s.split('\n', 1)[0].slice(0, 200);
}
