// Manifest fragment of the norm family (merged into src/kernels/manifest.ts by the lead): each op's CPU
// reference and WGSL forward, and its backward kernels. All three ops share the group-norm template.
import type { ManifestEntry } from '../manifest.ts';
import { layerNormParamGradCpu, normBackwardCpu, normForwardCpu } from './norm.cpu.ts';
import { layerNormParamGradWgsl, normBackwardWgsl, normForwardWgsl } from './norm.wgsl.ts';

const entry = (name: string): ManifestEntry => ({
  name,
  family: 'norm',
  kind: 'kernel',
  cpu: normForwardCpu,
  wgsl: normForwardWgsl,
  backward: { cpu: normBackwardCpu, wgsl: normBackwardWgsl },
});

export const MANIFEST_NORM: ManifestEntry[] = [entry('layerNorm'), entry('batchNorm2d'), entry('instanceNormTokens')];

/** layerNorm's second backward pair: the weight/bias gradients as deterministic column sums. */
export const LAYERNORM_PARAM_GRAD = { cpu: layerNormParamGradCpu, wgsl: layerNormParamGradWgsl };
