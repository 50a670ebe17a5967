// Manifest fragment for the attention family (the lead merges it into src/kernels/manifest.ts). The fused op
// has its own forward and backward-row kernels (dK, dV are matmuls over the saved P and dS); the Swin helpers
// are compositions of views, the copy kernel and the embedding gather.
import type { ManifestEntry } from '../manifest.ts';
import { attentionBackwardRowsCpu, attentionForwardCpu } from './attention.cpu.ts';
import { attentionBackwardRowsWgsl, attentionForwardWgsl } from './attention.wgsl.ts';
import { windowPartition, relativePositionBias } from './swin.ts';

export const MANIFEST_ATTENTION: ManifestEntry[] = [
  {
    name: 'attention', family: 'attention', kind: 'kernel', cpu: attentionForwardCpu, wgsl: attentionForwardWgsl,
    backward: { cpu: attentionBackwardRowsCpu, wgsl: attentionBackwardRowsWgsl },
  },
  { name: 'windowPartition', family: 'attention', kind: 'composite', backward: { rule: windowPartition } },
  { name: 'relativePositionBias', family: 'attention', kind: 'composite', backward: { rule: relativePositionBias } },
];
