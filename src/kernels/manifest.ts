// The op manifest: for every op the model uses, its four pieces (CPU reference forward, WGSL forward, and the
// backward as a rule over kernels that themselves have both pieces). tests/ops/manifest.test.ts fails when an
// entry lacks a piece or has no test case, so a hole like "backward not implemented" cannot ship silently.
import { EW_GRADS } from './elementwise/elementwise.op.ts';
import { EW_NONDIFF, EW_TABLE } from './elementwise/elementwise.table.ts';
import { ewCpu } from './elementwise/elementwise.cpu.ts';
import { ewWgsl } from './elementwise/elementwise.wgsl.ts';
import { reduceCpu } from './reduce/reduce.cpu.ts';
import { reduceWgsl } from './reduce/reduce.wgsl.ts';
import { copyCpu, fillCpu } from './movement/movement.cpu.ts';
import { copyWgsl, fillWgsl } from './movement/movement.wgsl.ts';
import { matmulCpu } from './matmul/matmul.cpu.ts';
import { matmulWgsl } from './matmul/matmul.wgsl.ts';
import { softmaxBackwardCpu, softmaxCpu } from './softmax/softmax.cpu.ts';
import { softmaxBackwardWgsl, softmaxWgsl } from './softmax/softmax.wgsl.ts';
import { gatherRowsCpu, scatterAddRowsCpu } from './gather/gather.cpu.ts';
import { gatherRowsWgsl, scatterAddRowsWgsl } from './gather/gather.wgsl.ts';
import { convForwardCpu, convInputGradCpu, convWeightGradCpu } from './conv/conv.cpu.ts';
import { convForwardWgsl, convInputGradWgsl, convWeightGradWgsl } from './conv/conv.wgsl.ts';
import { MANIFEST_NORM } from './norm/manifest.ts';
import { MANIFEST_RESAMPLE } from './resample/manifest.ts';
import { MANIFEST_REGULARIZE } from './regularize/manifest.ts';
import { MANIFEST_LOSS } from './loss/manifest.ts';
import { MANIFEST_TMEM } from './tmem/manifest.ts';
import { MANIFEST_ATTENTION } from './attention/manifest.ts';

type Fn = (...args: never[]) => unknown;

export interface ManifestEntry {
  name: string;
  family: string;
  /** 'view' ops move no data: their forward is stride arithmetic, so they need no kernel. */
  kind: 'kernel' | 'view' | 'composite';
  cpu?: Fn;
  wgsl?: Fn;
  /**
   * The backward: its own kernels (CPU and WGSL pieces), a rule function, and/or `via`: the manifest ops it is
   * composed of (checked to exist, so a composite backward cannot lean on an op that lacks a piece).
   * null = not differentiable.
   */
  backward: { cpu?: Fn; wgsl?: Fn; rule?: Fn; via?: string[] } | null;
}

const ew: ManifestEntry[] = [...EW_TABLE.values()].map((e) => ({
  name: e.name,
  family: 'elementwise',
  kind: 'kernel',
  cpu: ewCpu,
  wgsl: ewWgsl,
  backward: EW_NONDIFF.has(e.name) ? null : EW_GRADS[e.name] ? { cpu: ewCpu, wgsl: ewWgsl, rule: EW_GRADS[e.name]!.grad } : {},
}));

const k = (name: string, family: string, cpu: Fn, wgsl: Fn, backward: ManifestEntry['backward']): ManifestEntry =>
  ({ name, family, kind: 'kernel', cpu, wgsl, backward });
const v = (name: string, via: string[]): ManifestEntry => ({ name, family: 'movement', kind: 'view', backward: { via } });

export const MANIFEST: ManifestEntry[] = [
  ...ew,
  k('sum', 'reduce', reduceCpu, reduceWgsl, { via: ['expand'] }),
  k('mean', 'reduce', reduceCpu, reduceWgsl, { via: ['expand', 'divs'] }),
  k('max', 'reduce', reduceCpu, reduceWgsl, { via: ['eq', 'cast', 'sum', 'div', 'mul'] }),
  k('min', 'reduce', reduceCpu, reduceWgsl, { via: ['eq', 'cast', 'sum', 'div', 'mul'] }),
  k('argmax', 'reduce', reduceCpu, reduceWgsl, null),
  k('argmin', 'reduce', reduceCpu, reduceWgsl, null),
  { name: 'variance', family: 'reduce', kind: 'composite', backward: { via: ['sub', 'mean', 'mul', 'sum', 'div'] } },
  v('reshape', ['reshape']),
  v('permute', ['permute']),
  v('expand', ['sum']),
  v('slice', ['fill', 'contiguous']),
  k('contiguous', 'movement', copyCpu, copyWgsl, { via: [] }), // the gradient passes through
  k('concat', 'movement', copyCpu, copyWgsl, { via: ['slice'] }),
  k('pad', 'movement', copyCpu, copyWgsl, { via: ['slice'] }),
  k('roll', 'movement', copyCpu, copyWgsl, { cpu: copyCpu, wgsl: copyWgsl }), // roll back by -shift
  k('fill', 'movement', fillCpu, fillWgsl, null),
  k('matmul', 'matmul', matmulCpu, matmulWgsl, { cpu: matmulCpu, wgsl: matmulWgsl }),
  k('softmax', 'softmax', softmaxCpu, softmaxWgsl, { cpu: softmaxBackwardCpu, wgsl: softmaxBackwardWgsl }),
  k('logSoftmax', 'softmax', softmaxCpu, softmaxWgsl, { cpu: softmaxBackwardCpu, wgsl: softmaxBackwardWgsl }),
  { name: 'crossEntropy', family: 'softmax', kind: 'composite', backward: { via: ['logSoftmax', 'mul', 'sum', 'neg', 'div', 'eq', 'cast'] } },
  k('embedding', 'gather', gatherRowsCpu, gatherRowsWgsl, { cpu: scatterAddRowsCpu, wgsl: scatterAddRowsWgsl }),
  // The backward of a convolution is two more implicit GEMMs (input and weight gradients), each with its reference.
  // The input gradient is its own implicit GEMM; the weight gradient another (wgrad pieces below); bias: a sum.
  k('conv2d', 'conv', convForwardCpu, convForwardWgsl, { cpu: convInputGradCpu, wgsl: convInputGradWgsl, via: ['conv2d_weight_grad', 'sum'] }),
  k('conv2d_weight_grad', 'conv', convWeightGradCpu, convWeightGradWgsl, null),
  { name: 'conv1d', family: 'conv', kind: 'composite', backward: { via: ['conv2d', 'reshape'] } },
  ...MANIFEST_NORM,
  ...MANIFEST_RESAMPLE,
  ...MANIFEST_REGULARIZE,
  ...MANIFEST_LOSS,
  ...MANIFEST_TMEM,
  ...MANIFEST_ATTENTION,
];
