// Which device tensors land on by default, and the process-wide WebGPU runtime.
// FIANET_DEVICE=cpu|webgpu picks the default; without it, webgpu when an adapter exists, else cpu.
import type { DeviceName } from '../tensor/storage.ts';
import { WebGPURuntime, releaseGpu } from './webgpu.ts';

let runtime: WebGPURuntime | null = null;
let runtimePromise: Promise<WebGPURuntime> | null = null;
let current: DeviceName = 'cpu';

export async function initWebGPU(): Promise<WebGPURuntime> {
  runtimePromise ??= WebGPURuntime.create().then((rt) => (runtime = rt));
  return runtimePromise;
}

/** Initializes the default device. `auto` falls back to cpu (with a message) when no adapter exists. */
export async function initDevice(name: DeviceName | 'auto' = (process.env.FIANET_DEVICE as DeviceName) ?? 'auto'): Promise<DeviceName> {
  if (name !== 'cpu' && name !== 'webgpu' && name !== 'auto') {
    throw new Error(`FIANET_DEVICE: expected cpu or webgpu, found '${name}'`);
  }
  if (name === 'cpu') {
    current = 'cpu';
    return current;
  }
  try {
    await initWebGPU();
    current = 'webgpu';
  } catch (e) {
    if (name === 'webgpu') throw e;
    process.stderr.write(`fianet: no WebGPU adapter (${(e as Error).message.split('\n')[0]}); using cpu\n`);
    current = 'cpu';
  }
  return current;
}

export function defaultDevice(): DeviceName {
  return current;
}

export function setDefaultDevice(d: DeviceName): void {
  if (d === 'webgpu' && !runtime) throw new Error('setDefaultDevice(webgpu): call await initWebGPU() first');
  current = d;
}

export function getRuntime(): WebGPURuntime {
  if (!runtime) throw new Error('webgpu runtime not initialized: await initWebGPU() (or initDevice()) first');
  return runtime;
}

export function hasRuntime(): boolean {
  return runtime !== null;
}

/** Lets the process exit: releases the device and the Dawn instance. */
export function shutdown(): void {
  releaseGpu(runtime);
  runtime = null;
  runtimePromise = null;
}
