// Manifest fragment for the loss family (the lead merges it into src/kernels/manifest.ts).
import type { ManifestEntry } from '../manifest.ts';
import { segLossBackwardCpu, segLossForwardCpu } from './loss.cpu.ts';
import { segLossBackwardWgsl, segLossForwardWgsl } from './loss.wgsl.ts';

const pieces = { kind: 'kernel' as const, family: 'loss', cpu: segLossForwardCpu, wgsl: segLossForwardWgsl, backward: { cpu: segLossBackwardCpu, wgsl: segLossBackwardWgsl } };

// One fused kernel set serves all three: they differ only in the (ceCoef, diceCoef, weight) uniforms.
export const MANIFEST_LOSS: ManifestEntry[] = [
  { name: 'fianetLoss', ...pieces },
  { name: 'weightedCrossEntropy2d', ...pieces },
  { name: 'diceLoss', ...pieces },
];
