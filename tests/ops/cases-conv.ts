// conv2d / conv1d cases: FIANet's shapes in miniature (4x4 stride-4 patch embedding, 3x3 pad 1 without bias,
// 1x1 with bias, conv1d 1x1) and the general knobs (stride, dilation, groups, odd sizes, size 1).
import * as F from '../../src/index.ts';
import { conv1d, conv2d, type Conv2dOptions } from '../../src/kernels/conv/conv.op.ts';
import type { OpCase } from './harness.ts';

const c2 = (label: string, x: number[], w: number[], bias: boolean, o: Conv2dOptions, extra: Partial<OpCase> = {}): OpCase => ({
  op: 'conv2d', label, tol: 5e-4,
  inputs: [{ shape: x }, { shape: w }, ...(bias ? [{ shape: [w[0]!] }] : [])],
  run: ([a, b, c]) => conv2d(a!, b!, c ?? null, o),
  ...extra,
});

export const CASES_CONV: OpCase[] = [
  c2('patch embed 4x4 stride 4', [2, 3, 8, 12], [5, 3, 4, 4], true, { stride: 4 }),
  c2('3x3 pad 1 no bias', [1, 6, 7, 5], [4, 6, 3, 3], false, { padding: 1 }),
  c2('1x1 with bias (pointwise)', [2, 8, 4, 4], [6, 8, 1, 1], true, {}),
  c2('1x1 odd spatial', [1, 3, 3, 5], [2, 3, 1, 1], true, {}),
  c2('stride 2 pad 1 (dgrad with stride)', [2, 3, 7, 6], [4, 3, 3, 3], true, { stride: 2, padding: 1 }),
  c2('dilation 2 groups 2', [1, 4, 9, 8], [6, 2, 3, 3], false, { padding: 2, dilation: 2, groups: 2 }),
  // Stride and dilation together: the input gradient's unphased strided mode (taps that do not divide read zeros).
  c2('stride 2 dilation 2', [1, 3, 9, 8], [4, 3, 3, 3], true, { stride: 2, padding: 2, dilation: 2 }),
  c2('rectangular kernel', [1, 2, 6, 7], [3, 2, 2, 3], true, { stride: [1, 2], padding: [1, 0] }),
  c2('size 1', [1, 1, 1, 1], [1, 1, 1, 1], true, {}),
  // Channels-last taps paths: channels and widths multiple of 4 take the vector loads everywhere.
  c2('3x3 pad 1, channels x4 (vector taps)', [2, 8, 5, 8], [4, 8, 3, 3], true, { padding: 1 }),
  c2('3x3 dilation 2 pad 2, channels x4, odd width', [1, 4, 6, 7], [8, 4, 3, 3], false, { padding: 2, dilation: 2 }),
  c2('stride 2, channels x4 (dgrad divides per tap)', [2, 8, 9, 8], [4, 8, 3, 3], false, { stride: 2, padding: 1 }),
  c2('padding beyond the kernel reach', [1, 4, 4, 4], [4, 4, 3, 3], false, { padding: 3 }),
  c2('groups 2, channels x4 per group (vector taps)', [2, 8, 5, 8], [8, 4, 3, 3], true, { padding: 1, groups: 2 }),
  c2('groups 2 stride 2, channels x4 per group', [1, 8, 7, 6], [8, 4, 3, 3], false, { stride: 2, padding: 1, groups: 2 }),
  // Forward layouts by output channels: channel rows below a tile's 4S columns (most cases here), pixel rows from it.
  c2('3x3, 32 output channels (pixel rows)', [1, 4, 5, 6], [32, 4, 3, 3], true, { padding: 1 }),
  // Input-gradient layouts by input channels per group: channel rows below a tile's 4S columns (most cases
  // here), pixel rows from it, unphased and phased.
  c2('32 input channels (pixel-row input gradient)', [1, 32, 5, 6], [4, 32, 3, 3], false, { padding: 1 }),
  c2('32 input channels stride 2 (pixel-row phased input gradient)', [1, 32, 7, 6], [8, 32, 3, 3], true, { stride: 2, padding: 1 }),
  // Phased input gradient (stride > 1): phases that no tap reaches store zeros.
  c2('1x1 stride 2 (input-gradient phases without taps)', [1, 4, 5, 6], [3, 4, 1, 1], true, { stride: 2 }),
  c2('2x2 stride 3 pad 1', [1, 3, 8, 7], [2, 3, 2, 2], false, { stride: 3, padding: 1 }),
  // The weight-gradient GEMM (its own manifest entry): checked through the weight's gradient.
  { ...c2('3x3 stride 2, weight gradient', [2, 3, 7, 6], [4, 3, 3, 3], false, { stride: 2, padding: 1 }), op: 'conv2d_weight_grad' },
  { ...c2('3x3 channels x4, weight gradient (vector taps)', [2, 8, 4, 8], [4, 8, 3, 3], false, { padding: 1 }), op: 'conv2d_weight_grad' },
  { ...c2('groups 2, weight gradient (NCHW in place)', [1, 4, 5, 5], [4, 2, 3, 3], false, { padding: 1, groups: 2 }), op: 'conv2d_weight_grad' },
  { ...c2('groups 2, channels x4 per group, weight gradient (NHWC copy)', [2, 8, 4, 8], [8, 4, 3, 3], false, { padding: 1, groups: 2 }), op: 'conv2d_weight_grad' },
  { ...c2('1x1, weight gradient', [2, 8, 3, 4], [4, 8, 1, 1], true, {}), op: 'conv2d_weight_grad' },
  { ...c2('32 input channels, weight gradient (channel columns, NHWC copy)', [1, 32, 5, 8], [4, 32, 3, 3], false, { padding: 1 }), op: 'conv2d_weight_grad' },
  // (channel, tap) columns and a reduction long enough to run in chunks (two partial dW, summed).
  { ...c2('3-channel stem, chunked weight gradient', [2, 3, 32, 32], [4, 3, 3, 3], false, { padding: 1 }, { gradcheck: false }), op: 'conv2d_weight_grad' },
  c2('non-contiguous input', [2, 3, 5, 5], [2, 3, 3, 3], false, { padding: 1 }, { inputs: [{ shape: [2, 3, 5, 5], transposed: true }, { shape: [2, 3, 3, 3] }] }),
  {
    op: 'conv2d', label: 'offset views (batch slice, weight and bias slices)', tol: 5e-4,
    inputs: [{ shape: [3, 2, 5, 4] }, { shape: [5, 2, 3, 3] }, { shape: [6] }],
    run: ([x, w, b]) => conv2d(F.slice(x!, 0, 1), F.slice(w!, 0, 1), F.slice(b!, 0, 2), { padding: 1 }),
  },
  {
    op: 'conv1d', label: '1x1 (SILA projections)', tol: 5e-4,
    inputs: [{ shape: [2, 12, 7] }, { shape: [5, 12, 1] }, { shape: [5] }],
    run: ([x, w, b]) => conv1d(x!, w!, b!),
  },
  {
    op: 'conv1d', label: 'k3 pad 1', tol: 5e-4,
    inputs: [{ shape: [1, 3, 9] }, { shape: [2, 3, 3] }],
    run: ([x, w]) => conv1d(x!, w!, null, { padding: 1 }),
  },
];

