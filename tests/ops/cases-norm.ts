// Op cases of the norm and resample families: random and edge shapes (size-1 dims, odd sizes that take the
// scalar kernels, sizes that take the vec4 kernels, non-contiguous views, batch-1 BatchNorm), run by checkCase
// on cpu and webgpu (forward and every input gradient) and gradchecked in float64 on the cpu.
import * as F from '../../src/index.ts';
import { batchNorm2d, instanceNormTokens, layerNorm } from '../../src/kernels/norm/norm.op.ts';
import { adaptiveAvgPool2d, interpolate, type InterpolateOptions } from '../../src/kernels/resample/resample.op.ts';
import type { OpCase } from './harness.ts';

const cases: OpCase[] = [];
const add = (c: OpCase) => cases.push(c);

// ---- layerNorm ----
const ln = (label: string, shape: number[], o: { transposed?: boolean; affine?: boolean; eps?: number } = {}) => {
  const C = shape[shape.length - 1]!;
  const affine = o.affine ?? true;
  add({
    op: 'layerNorm', label,
    inputs: [{ shape, transposed: o.transposed }, ...(affine ? [{ shape: [C] }, { shape: [C] }] : [])],
    run: ([x, w, b]) => layerNorm(x!, w ?? null, b ?? null, o.eps ?? 1e-5),
  });
};
ln('4x12 (vec4 kernels)', [4, 12]);
ln('odd 2x5x13', [2, 5, 13]);
ln('C = 1', [3, 1]);
ln('transposed 6x8', [6, 8], { transposed: true });
ln('no affine 3x9', [3, 9], { affine: false });
ln('eps 1e-12 (BERT) 2x16', [2, 16], { eps: 1e-12 });
ln('70 rows (chunked weight grads)', [70, 8]);
ln('single row 1x5', [1, 5]);

// ---- batchNorm2d ----
interface BnCase { training: boolean; affine?: boolean; running?: boolean; transposed?: boolean }
const bn = (label: string, shape: number[], o: BnCase) => {
  const C = shape[1]!;
  const affine = o.affine ?? true;
  const running = o.running ?? true;
  add({
    op: 'batchNorm2d', label,
    inputs: [{ shape, transposed: o.transposed }, ...(affine ? [{ shape: [C] }, { shape: [C] }] : [])],
    run: ([x, w, b]) => {
      // Running statistics live on the input's device and dtype (f64 during gradcheck).
      const stat = (f: (c: number) => number) => F.fromArray(Float64Array.from({ length: C }, (_, c) => f(c)), [C], { device: x!.device, dtype: x!.dtype });
      const rm = running ? stat((c) => 0.3 * c - 0.2) : null;
      const rv = running ? stat((c) => 0.5 + 0.25 * c) : null;
      const y = batchNorm2d(x!, { weight: w ?? null, bias: b ?? null, runningMean: rm, runningVar: rv, training: o.training });
      rm?.dispose();
      rv?.dispose();
      return y;
    },
  });
};
bn('train 2x3x4x5 (vec4 kernels)', [2, 3, 4, 5], { training: true });
bn('train odd 2x3x3x5', [2, 3, 3, 5], { training: true });
bn('train batch 1 1x4x3x3', [1, 4, 3, 3], { training: true });
bn('train 1x1 spatial 4x3x1x1', [4, 3, 1, 1], { training: true });
bn('train 1x1 spatial 3x8x1x1 (vec4 groups)', [3, 8, 1, 1], { training: true });
bn('eval 1x1 spatial 2x4x1x1 (vec4 groups)', [2, 4, 1, 1], { training: false });
bn('train no affine, no running stats', [2, 2, 3, 3], { training: true, affine: false, running: false });
bn('train transposed view', [2, 3, 5, 4], { training: true, transposed: true });
bn('eval 2x3x4x4', [2, 3, 4, 4], { training: false });
bn('eval odd 1x5x3x3', [1, 5, 3, 3], { training: false });

// ---- instanceNormTokens ----
add({ op: 'instanceNormTokens', label: '2x7x5', inputs: [{ shape: [2, 7, 5] }], run: ([x]) => instanceNormTokens(x!) });
add({ op: 'instanceNormTokens', label: '2x6x8 (vec4 groups)', inputs: [{ shape: [2, 6, 8] }], run: ([x]) => instanceNormTokens(x!) });
add({ op: 'instanceNormTokens', label: 'transposed 1x9x4', inputs: [{ shape: [1, 9, 4], transposed: true }], run: ([x]) => instanceNormTokens(x!) });
add({ op: 'instanceNormTokens', label: '2 tokens, 1 channel', inputs: [{ shape: [3, 2, 1] }], run: ([x]) => instanceNormTokens(x!) });

// ---- resample ----
const interp = (op: string, label: string, shape: number[], o: InterpolateOptions, transposed = false) =>
  add({ op, label, inputs: [{ shape, transposed }], run: ([x]) => interpolate(x!, o) });
for (const ac of [true, false]) {
  const b = (label: string, shape: number[], o: Omit<InterpolateOptions, 'mode' | 'alignCorners'>, tr = false) =>
    interp('interpolateBilinear', `align_corners=${ac} ${label}`, shape, { ...o, mode: 'bilinear', alignCorners: ac }, tr);
  b('up 5x7 -> 11x13', [1, 2, 5, 7], { size: [11, 13] });
  b('down 9x11 -> 4x5', [2, 1, 9, 11], { size: [4, 5] });
  b('up x4 6x6 -> 24x24', [1, 1, 6, 6], { size: [24, 24] });
  b('from 1x1', [1, 2, 1, 1], { size: [3, 2] });
  b('to 1x1', [1, 2, 6, 9], { size: 1 });
  b('scaleFactor 2, transposed', [1, 2, 4, 5], { scaleFactor: 2 }, true);
}
interp('interpolateNearest', 'up 5x7 -> 11x13', [1, 2, 5, 7], { size: [11, 13] });
interp('interpolateNearest', 'down 10x13 -> 6x4 (float32 index rounding)', [1, 2, 10, 13], { size: [6, 4] });
interp('interpolateNearest', 'x2 transposed', [2, 1, 3, 4], { scaleFactor: 2 }, true);
const pool = (label: string, shape: number[], size: number | [number, number], tr = false) =>
  add({ op: 'adaptiveAvgPool2d', label, inputs: [{ shape, transposed: tr }], run: ([x]) => adaptiveAvgPool2d(x!, size) });
pool('exact 8x8 -> 2x2', [1, 2, 8, 8], 2);
pool('general 10x13 -> 3x4', [1, 2, 10, 13], [3, 4]);
pool('up 5x7 -> 7x9', [1, 1, 5, 7], [7, 9]);
pool('global 4x5 -> 1x1', [2, 3, 4, 5], 1);
pool('transposed 6x9 -> 4x4', [1, 2, 6, 9], 4, true);

export const CASES_NORM = cases;
