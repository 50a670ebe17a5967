// Manifest fragment for the tmem family (the lead merges it into src/kernels/manifest.ts).
import type { ManifestEntry } from '../manifest.ts';
import { gateBackwardCpu, gateCpu, poolConcatBackwardCpu, poolConcatCpu } from './tmem.cpu.ts';
import { gateBackwardWgsl, gateWgsl, poolConcatBackwardWgsl, poolConcatWgsl } from './tmem.wgsl.ts';

const pool = { family: 'tmem', kind: 'kernel' as const, cpu: poolConcatCpu, wgsl: poolConcatWgsl, backward: { cpu: poolConcatBackwardCpu, wgsl: poolConcatBackwardWgsl } };

export const MANIFEST_TMEM: ManifestEntry[] = [
  { name: 'pyramidPoolConcat', ...pool },
  { name: 'adaptiveAvgPool2d', ...pool },
  { name: 'tmemGate', family: 'tmem', kind: 'kernel', cpu: gateCpu, wgsl: gateWgsl, backward: { cpu: gateBackwardCpu, wgsl: gateBackwardWgsl } },
];
