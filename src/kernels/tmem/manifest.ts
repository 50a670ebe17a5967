// Manifest fragment for the tmem family (the lead merges it into src/kernels/manifest.ts).
import type { ManifestEntry } from '../manifest.ts';
import { gateBackwardCpu, gateCpu, poolConcatBackwardCpu, poolConcatCpu } from './tmem.cpu.ts';
import { gateBackwardWgsl, gateWgsl, poolConcatBackwardWgsl, poolConcatWgsl } from './tmem.wgsl.ts';

export const MANIFEST_TMEM: ManifestEntry[] = [
  { name: 'pyramidPoolConcat', family: 'tmem', kind: 'kernel', cpu: poolConcatCpu, wgsl: poolConcatWgsl, backward: { cpu: poolConcatBackwardCpu, wgsl: poolConcatBackwardWgsl } },
  { name: 'tmemGate', family: 'tmem', kind: 'kernel', cpu: gateCpu, wgsl: gateWgsl, backward: { cpu: gateBackwardCpu, wgsl: gateBackwardWgsl } },
];
