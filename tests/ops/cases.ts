// Test cases for every op in the manifest: random and edge shapes (size 1, odd sizes, broadcasting,
// non-contiguous views). The manifest test checks that every op has at least one case here.
import * as F from '../../src/index.ts';
import { BACKWARD, BINARY, TERNARY, UNARY } from '../../src/kernels/elementwise/elementwise.table.ts';
import { ewKernel } from '../../src/kernels/elementwise/elementwise.op.ts';
import type { OpCase } from './harness.ts';

const cases: OpCase[] = [];
const add = (c: OpCase) => cases.push(c);

const UNARY_API: Record<string, (x: F.Tensor, p0: number, p1: number) => F.Tensor> = {
  neg: F.neg, exp: F.exp, log: F.log, sqrt: F.sqrt, rsqrt: F.rsqrt, reciprocal: F.reciprocal, abs: F.abs,
  sign: F.sign, square: F.square, relu: F.relu, relu6: F.relu6, gelu: F.gelu, tanh: F.tanh, sigmoid: F.sigmoid,
  hardsigmoid: F.hardsigmoid, adds: (x, p) => F.add(x, p), muls: (x, p) => F.mul(x, p), rsubs: (x, p) => F.sub(p, x),
  divs: (x, p) => F.div(x, p), pows: (x, p) => F.pow(x, p), clamp: (x, lo, hi) => F.clamp(x, lo, hi),
  cast: (x) => F.cast(F.cast(x, 'i32'), 'f32'),
  dropout: (x, p) => F.dropout(x, p, true, new F.Generator(7)),
};
for (const e of UNARY) {
  const fn = UNARY_API[e.name]!;
  const [p0, p1] = e.testParams ?? [0, 0];
  for (const [label, shape, transposed] of [['7x13', [7, 13], false], ['6x4 (vec4 path)', [6, 4], false], ['size1', [1], false], ['3x1x5 transposed', [3, 1, 5], true]] as const) {
    add({ op: e.name, label, inputs: [{ shape: [...shape], domain: e.domain ?? 'any', transposed }], run: ([x]) => fn(x!, p0, p1),
      backward: e.name !== 'sign' && e.name !== 'cast', tol: e.name === 'gelu' ? 5e-4 : undefined });
  }
}

const BINARY_API: Record<string, (a: F.Tensor, b: F.Tensor) => F.Tensor> = {
  add: F.add, sub: F.sub, mul: F.mul, div: F.div, pow: F.pow, maximum: F.maximum, minimum: F.minimum,
  eq: F.eq, ne: F.ne, lt: F.lt, le: F.le, gt: F.gt, ge: F.ge,
};
for (const e of BINARY) {
  const fn = BINARY_API[e.name]!;
  const nd = e.out === 'u32';
  const shapes: [string, number[], number[], boolean][] = [
    ['same 5x6', [5, 6], [5, 6], false],
    ['same 4x6 (vec4 path)', [4, 6], [4, 6], false],
    ['broadcast 4x5 + 5', [4, 5], [5], false],
    ['broadcast 3x1x6 + 1x4x1', [3, 1, 6], [1, 4, 1], false],
    ['scalar-like 1 + 2x3', [1], [2, 3], false],
    ['transposed 6x3', [6, 3], [6, 3], true],
  ];
  for (const [label, sa, sb, tr] of shapes) {
    // Comparisons get small integers (as f32) so that ties occur.
    const spec = (shape: number[], transposed: boolean) =>
      nd ? { shape, transposed, ints: 3, dtype: 'f32' as const, grad: false } : { shape, transposed, domain: e.domain ?? 'any' };
    add({ op: e.name, label, inputs: [spec(sa, tr), spec(sb, false)], run: ([a, b]) => fn(a!, b!), backward: !nd });
  }
  if (e.int) {
    add({ op: e.name, label: 'int32', inputs: [{ shape: [4, 3], ints: 9 }, { shape: [3], ints: 9 }], run: ([a, b]) => F.cast(fn(a!, b!), 'i32'), backward: false });
  }
}
for (const e of TERNARY) {
  add({ op: e.name, label: 'u32 cond broadcast', inputs: [{ shape: [4, 1], ints: 2, dtype: 'u32' }, { shape: [4, 5] }, { shape: [5] }], run: ([c, a, b]) => F.where(c!, a!, b!) });
  add({ op: e.name, label: 'f32 cond transposed', inputs: [{ shape: [3, 4], ints: 2, dtype: 'f32', grad: false }, { shape: [3, 4], transposed: true }, { shape: [1] }], run: ([c, a, b]) => F.where(c!, a!, b!) });
}
for (const e of BACKWARD) {
  const [p0, p1] = e.testParams ?? [0, 0];
  const ins = Array.from({ length: e.arity }, (_, i) => ({ shape: [5, 7], domain: i === 0 ? ('any' as const) : (e.domain ?? 'any'), ints: e.int && i === 0 ? 2 : undefined, dtype: e.int && i === 0 ? ('u32' as const) : undefined, grad: false }));
  add({ op: e.name, label: '5x7', inputs: ins, run: (xs) => ewKernel(e.name, xs, p0, p1), backward: false });
}

// ---- reductions ----
for (const op of ['sum', 'mean', 'max', 'min'] as const) {
  const fn = F[op];
  add({ op, label: 'axis 1 of 4x7x3', inputs: [{ shape: [4, 7, 3] }], run: ([x]) => fn(x!, 1) });
  add({ op, label: 'axes 0,2 keepdim', inputs: [{ shape: [4, 7, 3] }], run: ([x]) => fn(x!, [0, 2], true) });
  add({ op, label: 'all, transposed', inputs: [{ shape: [5, 9], transposed: true }], run: ([x]) => fn(x!) });
  add({ op, label: 'large row (workgroup mode)', inputs: [{ shape: [3, 2050] }], run: ([x]) => fn(x!, -1), tol: 1e-3 });
  // A bias gradient's shape: several reduced dims, walked row by row of the innermost one.
  add({ op, label: 'axes 0,2 of 3x5x350 (workgroup mode, rows)', inputs: [{ shape: [3, 5, 350] }], run: ([x]) => fn(x!, [0, 2]), tol: 1e-3 });
  add({ op, label: 'axes 0,1 of a transposed 400x3x5 (workgroup mode, strided rows)', inputs: [{ shape: [400, 3, 5], transposed: true }], run: ([x]) => fn(x!, [0, 1]), tol: 1e-3 });
  add({ op, label: 'size 1', inputs: [{ shape: [1, 1] }], run: ([x]) => fn(x!, 0) });
}
add({ op: 'argmax', label: 'axis 1', inputs: [{ shape: [6, 11] }], run: ([x]) => F.cast(F.argmax(x!, 1), 'f32'), backward: false });
add({ op: 'argmax', label: 'axis 0 transposed large', inputs: [{ shape: [2100, 3], transposed: true }], run: ([x]) => F.cast(F.argmax(x!, 0), 'f32'), backward: false });
add({ op: 'argmin', label: 'axis 0', inputs: [{ shape: [6, 11] }], run: ([x]) => F.cast(F.argmin(x!, 0), 'f32'), backward: false });
add({ op: 'variance', label: 'axis 1 unbiased', inputs: [{ shape: [4, 9] }], run: ([x]) => F.variance(x!, 1) });
add({ op: 'variance', label: 'all biased', inputs: [{ shape: [3, 5] }], run: ([x]) => F.variance(x!, undefined, false, 0) });

// ---- movement ----
add({ op: 'reshape', label: 'view', inputs: [{ shape: [4, 6] }], run: ([x]) => F.mul(F.reshape(x!, [2, 12]), 2) });
add({ op: 'reshape', label: 'of a transpose (copies)', inputs: [{ shape: [4, 6], transposed: true }], run: ([x]) => F.reshape(x!, [3, -1]) });
add({ op: 'permute', label: '3d', inputs: [{ shape: [2, 3, 4] }], run: ([x]) => F.contiguous(F.permute(x!, [2, 0, 1])) });
add({ op: 'expand', label: '3x1 -> 2x3x5', inputs: [{ shape: [3, 1] }], run: ([x]) => F.mul(F.expand(x!, [2, 3, 5]), 1) });
add({ op: 'slice', label: 'step 2', inputs: [{ shape: [5, 9] }], run: ([x]) => F.contiguous(F.slice(x!, 1, 1, 8, 2)) });
add({ op: 'slice', label: 'negative start', inputs: [{ shape: [7, 3] }], run: ([x]) => F.mul(F.slice(x!, 0, -3), 1) });
add({ op: 'contiguous', label: 'transposed', inputs: [{ shape: [5, 3], transposed: true }], run: ([x]) => F.contiguous(x!) });
add({ op: 'concat', label: 'axis 1', inputs: [{ shape: [3, 2] }, { shape: [3, 5] }, { shape: [3, 1], transposed: true }], run: (xs) => F.concat(xs, 1) });
add({ op: 'pad', label: '2d', inputs: [{ shape: [3, 4] }], run: ([x]) => F.pad(x!, [1, 2, 0, 3], 0.5) });
add({ op: 'roll', label: '2 axes', inputs: [{ shape: [4, 5] }], run: ([x]) => F.roll(x!, [1, -2], [0, 1]) });
add({ op: 'roll', label: 'transposed', inputs: [{ shape: [3, 6], transposed: true }], run: ([x]) => F.roll(x!, 4, 1) });
add({ op: 'fill', label: 'full', inputs: [{ shape: [2, 3] }], run: ([x]) => F.add(x!, F.full([2, 3], 1.25, x!.dtype, x!.device)) });

// ---- matmul ----
add({ op: 'matmul', label: '5x7 @ 7x9', inputs: [{ shape: [5, 7] }, { shape: [7, 9] }], run: ([a, b]) => F.matmul(a!, b!), tol: 5e-4 });
add({ op: 'matmul', label: 'batch broadcast', inputs: [{ shape: [2, 1, 3, 4] }, { shape: [5, 4, 6] }], run: ([a, b]) => F.matmul(a!, b!), tol: 5e-4 });
add({ op: 'matmul', label: 'transposed operands', inputs: [{ shape: [33, 17], transposed: true }, { shape: [17, 65], transposed: true }], run: ([a, b]) => F.matmul(a!, b!), tol: 5e-4 });
// Many small products (9 batches) with vec4 output stores (N = 8).
// Aᵀ contiguous along its rows (a weight gradient's Xᵀ·dY), batched: 20 rows = a full 16-row tile and a partial one.
add({ op: 'matmul', label: 'batched transposed A (weight-gradient form)', inputs: [{ shape: [3, 13, 20] }, { shape: [3, 13, 36] }], run: ([a, b]) => F.matmul(F.transpose(a!, 1, 2), b!), tol: 5e-4 });
add({ op: 'matmul', label: 'many small batches', inputs: [{ shape: [9, 5, 7] }, { shape: [9, 7, 8] }], run: ([a, b]) => F.matmul(a!, b!), tol: 5e-4 });
// Short reduction over many row tiles: the subgroup GEMM loops over several row tiles per workgroup (10 tiles
// in 2 groups of 5, the last tile partial); its backward's dA loops too (K 36).
add({ op: 'matmul', label: 'short reduction, several row tiles per workgroup', inputs: [{ shape: [40, 150, 20] }, { shape: [40, 20, 36] }], run: ([a, b]) => F.matmul(a!, b!), tol: 5e-4 });
// A long reduction into few output tiles: the tiled variant (GPUs) runs it as 2 parallel K chunks of 1025 and
// a remainder of 1, then sums the partials; a transposed A as in a weight gradient.
add({ op: 'matmul', label: 'long reduction into one tile (parallel K chunks)', inputs: [{ shape: [2051, 6] }, { shape: [2051, 5] }], run: ([a, b]) => F.matmul(F.transpose(a!, 0, 1), b!), tol: 5e-4 });
add({ op: 'matmul', label: 'vector', inputs: [{ shape: [6] }, { shape: [6, 3] }], run: ([a, b]) => F.matmul(a!, b!), tol: 5e-4 });
add({ op: 'matmul', label: 'size 1', inputs: [{ shape: [1, 1] }, { shape: [1, 1] }], run: ([a, b]) => F.matmul(a!, b!) });
add({ op: 'matmul', label: 'linear with bias', inputs: [{ shape: [3, 10] }, { shape: [7, 10] }, { shape: [7] }], run: ([x, w, b]) => F.linear(x!, w!, b!), tol: 5e-4 });
add({ op: 'matmul', label: 'linear, batched transposed input, bias in the epilogue', inputs: [{ shape: [2, 5, 8], transposed: true }, { shape: [6, 5] }, { shape: [6] }], run: ([x, w, b]) => F.linear(F.transpose(x!, 1, 2), w!, b!), tol: 5e-4 });
add({ op: 'matmul', label: 'linear, bias view with offset', inputs: [{ shape: [4, 3, 12] }, { shape: [8, 12] }, { shape: [10] }], run: ([x, w, b]) => F.linear(x!, w!, F.slice(b!, 0, 2)), tol: 5e-4 });

// ---- softmax ----
add({ op: 'softmax', label: 'rows of 13', inputs: [{ shape: [4, 13] }], run: ([x]) => F.softmax(x!) });
add({ op: 'softmax', label: 'rows of 24 (vec4), 11 rows', inputs: [{ shape: [11, 24] }], run: ([x]) => F.softmax(x!) });
add({ op: 'softmax', label: 'vec4 rows with broadcast mask', inputs: [{ shape: [2, 3, 8] }, { shape: [3, 1] }], run: ([x, m]) => F.softmax(x!, m!) });
add({ op: 'logSoftmax', label: 'vec4 rows of 16 with key mask', inputs: [{ shape: [3, 5, 16] }, { shape: [3, 1, 16], grad: false }], run: ([x, m]) => F.logSoftmax(x!, m!) });
add({ op: 'softmax', label: 'mask broadcast with grad', inputs: [{ shape: [2, 3, 5] }, { shape: [3, 5] }], run: ([x, m]) => F.softmax(x!, m!) });
add({ op: 'softmax', label: 'transposed, size-1 rows', inputs: [{ shape: [4, 1], transposed: true }], run: ([x]) => F.softmax(x!) });
add({ op: 'logSoftmax', label: 'rows of 10', inputs: [{ shape: [6, 10] }], run: ([x]) => F.logSoftmax(x!) });
add({ op: 'logSoftmax', label: 'key mask', inputs: [{ shape: [2, 4, 6] }, { shape: [2, 1, 6], grad: false }], run: ([x, m]) => F.logSoftmax(x!, m!) });
add({ op: 'crossEntropy', label: 'plain', inputs: [{ shape: [7, 4] }, { shape: [7], ints: 4 }], run: ([x, t]) => F.crossEntropy(x!, t!) });
add({ op: 'crossEntropy', label: 'class weights', inputs: [{ shape: [9, 2] }, { shape: [9], ints: 2 }, { shape: [2], domain: 'positive', grad: false }], run: ([x, t, w]) => F.crossEntropy(x!, t!, w!) });

// ---- gather ----
add({ op: 'embedding', label: '11x5 by 3x4 ids', inputs: [{ shape: [11, 5] }, { shape: [3, 4], ints: 11 }], run: ([w, i]) => F.embedding(w!, i!) });
add({ op: 'embedding', label: 'size 1', inputs: [{ shape: [1, 1] }, { shape: [2], ints: 1 }], run: ([w, i]) => F.embedding(w!, i!) });

export const CASES = cases;

// Views that are contiguous but start inside their storage (offset != 0): kernels must not index from element 0.
CASES.push(
  { op: 'softmax', label: 'offset view (last rows of a matrix)', inputs: [{ shape: [4, 6] }], run: ([x]) => F.softmax(F.slice(x!, 0, 2, 4)) },
  { op: 'logSoftmax', label: 'offset view, vec4 rows', inputs: [{ shape: [5, 8] }], run: ([x]) => F.logSoftmax(F.slice(x!, 0, 1)) },
  { op: 'embedding', label: 'offset weight view and offset ids', inputs: [{ shape: [9, 4] }, { shape: [7], ints: 5 }], run: ([w, i]) => F.embedding(F.slice(w!, 0, 3), F.slice(i!, 0, 2)) },
);
