// Manifest fragment for the regularize family (the lead merges it into src/kernels/manifest.ts).
import type { ManifestEntry } from '../manifest.ts';
import { dropPathCpu } from './regularize.cpu.ts';
import { dropPathWgsl } from './regularize.wgsl.ts';

// The backward of both ops is the same kernel replayed on the gradient (same key, same per-sample mask).
export const MANIFEST_REGULARIZE: ManifestEntry[] = [
  { name: 'dropPath', family: 'regularize', kind: 'kernel', cpu: dropPathCpu, wgsl: dropPathWgsl, backward: { cpu: dropPathCpu, wgsl: dropPathWgsl } },
  { name: 'dropPathAdd', family: 'regularize', kind: 'kernel', cpu: dropPathCpu, wgsl: dropPathWgsl, backward: { cpu: dropPathCpu, wgsl: dropPathWgsl } },
];
