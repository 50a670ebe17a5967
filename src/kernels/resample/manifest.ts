// Manifest fragment of the resample family (merged into src/kernels/manifest.ts by the lead). One separable
// template serves every mode; the backward is its gather form (WGSL) and a scatter-form CPU reference.
import type { ManifestEntry } from '../manifest.ts';
import { resampleBackwardCpu, resampleCpu } from './resample.cpu.ts';
import { resampleBackwardWgsl, resampleWgsl } from './resample.wgsl.ts';

const entry = (name: string): ManifestEntry => ({
  name,
  family: 'resample',
  kind: 'kernel',
  cpu: resampleCpu,
  wgsl: resampleWgsl,
  backward: { cpu: resampleBackwardCpu, wgsl: resampleBackwardWgsl },
});

export const MANIFEST_RESAMPLE: ManifestEntry[] = [
  entry('interpolateBilinear'),
  entry('interpolateNearest'),
  entry('adaptiveAvgPool2d'),
];
