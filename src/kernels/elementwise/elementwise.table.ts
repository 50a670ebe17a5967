// Element-wise ops as data (the webgpu-torch idea): each entry is a WGSL expression and the matching CPU
// function, instantiated by the generic kernel (elementwise.wgsl.ts) and the generic reference
// (elementwise.cpu.ts). Gradient rules live in elementwise.grad.ts, keyed by the same names.
// In expressions: a, b, c are the inputs, p0/p1 are f32 scalar parameters from the uniforms.
import { erf } from './erf.ts';
import { uniformAt, WGSL_RANDOM } from '../../tensor/random.ts';

export interface EwEntry {
  name: string;
  arity: 1 | 2 | 3;
  wgsl: string;
  /** i is the output element's linear index (for the counter-based RNG). */
  cpu: (a: number, b: number, c: number, p0: number, p1: number, i?: number) => number;
  /** Output dtype: 'same' as input 0, or fixed (comparisons give u32 0/1). */
  out?: 'same' | 'u32';
  /** Which input's dtype the output takes when `out` is 'same' (where and the mask ops: the value operand). */
  outFrom?: number;
  /** Works on integer inputs too (index arithmetic, masks). */
  int?: boolean;
  /** Input domain for random tests and gradcheck. */
  domain?: 'any' | 'positive' | 'unit' | 'nonzero';
  /** Scalar parameters used in tests. */
  testParams?: [number, number];
}

const SQRT1_2 = Math.SQRT1_2;
const relu6 = (x: number) => Math.min(Math.max(x, 0), 6);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export const UNARY: EwEntry[] = [
  { name: 'neg', arity: 1, wgsl: '-a', cpu: (a) => -a, int: true },
  { name: 'exp', arity: 1, wgsl: 'exp(a)', cpu: (a) => Math.exp(a) },
  { name: 'log', arity: 1, wgsl: 'log(a)', cpu: (a) => Math.log(a), domain: 'positive' },
  { name: 'sqrt', arity: 1, wgsl: 'sqrt(a)', cpu: (a) => Math.sqrt(a), domain: 'positive' },
  { name: 'rsqrt', arity: 1, wgsl: 'inverseSqrt(a)', cpu: (a) => 1 / Math.sqrt(a), domain: 'positive' },
  { name: 'reciprocal', arity: 1, wgsl: '1.0 / a', cpu: (a) => 1 / a, domain: 'nonzero' },
  { name: 'abs', arity: 1, wgsl: 'abs(a)', cpu: (a) => Math.abs(a), int: true, domain: 'nonzero' },
  { name: 'sign', arity: 1, wgsl: 'sign(a)', cpu: (a) => Math.sign(a) },
  // Identity with a dtype change; the output type conversion does the work.
  { name: 'cast', arity: 1, wgsl: 'a', cpu: (a) => a, int: true },
  { name: 'square', arity: 1, wgsl: 'a * a', cpu: (a) => a * a, int: true },
  { name: 'relu', arity: 1, wgsl: 'max(a, 0.0)', cpu: (a) => Math.max(a, 0), domain: 'nonzero' },
  { name: 'relu6', arity: 1, wgsl: 'clamp(a, 0.0, 6.0)', cpu: relu6, domain: 'nonzero' },
  // Exact (erf) GELU as BERT and Swin use it; erf_ is a 1.5e-7 approximation in the shader prelude.
  { name: 'gelu', arity: 1, wgsl: '0.5 * a * (1.0 + erf_(a * 0.70710678118654752))', cpu: (a) => 0.5 * a * (1 + erf(a * SQRT1_2)) },
  // Clamped: some drivers compute tanh through exp(2x) and return NaN for large |x|.
  { name: 'tanh', arity: 1, wgsl: 'tanh(clamp(a, -15.0, 15.0))', cpu: (a) => Math.tanh(a) },
  { name: 'sigmoid', arity: 1, wgsl: '1.0 / (1.0 + exp(-a))', cpu: sigmoid },
  // PyTorch's Hardsigmoid: relu6(x + 3) / 6 (TMEM's gates).
  { name: 'hardsigmoid', arity: 1, wgsl: 'clamp(a + 3.0, 0.0, 6.0) / 6.0', cpu: (a) => relu6(a + 3) / 6, domain: 'nonzero' },
  // Scalar forms: binary ops with a JS number operand, so constants never need an upload.
  { name: 'adds', arity: 1, wgsl: 'a + p0', cpu: (a, _b, _c, p0) => a + p0, testParams: [0.75, 0] },
  { name: 'muls', arity: 1, wgsl: 'a * p0', cpu: (a, _b, _c, p0) => a * p0, testParams: [-1.5, 0] },
  { name: 'rsubs', arity: 1, wgsl: 'p0 - a', cpu: (a, _b, _c, p0) => p0 - a, testParams: [2, 0] },
  { name: 'divs', arity: 1, wgsl: 'a / p0', cpu: (a, _b, _c, p0) => a / p0, testParams: [3, 0] },
  { name: 'pows', arity: 1, wgsl: 'pow(a, p0)', cpu: (a, _b, _c, p0) => Math.pow(a, p0), domain: 'positive', testParams: [2.5, 0] },
  // Inverted dropout: element i survives when uniformAt(key, i) >= p (p0 = p, p1 = the stream key < 2^24).
  // The backward applies the same op to the gradient: same key, same index, same mask.
  { name: 'dropout', arity: 1, wgsl: 'select(0.0, a / (1.0 - p0), uniformAt(u32(p1), i) >= p0)', cpu: (a, _b, _c, p0, p1, i) => (uniformAt(p1, i!) >= Math.fround(p0) ? a / (1 - Math.fround(p0)) : 0), testParams: [0.3, 12345] },
  { name: 'clamp', arity: 1, wgsl: 'clamp(a, p0, p1)', cpu: (a, _b, _c, p0, p1) => Math.min(Math.max(a, p0), p1), testParams: [-0.5, 0.7] },
];

export const BINARY: EwEntry[] = [
  { name: 'add', arity: 2, wgsl: 'a + b', cpu: (a, b) => a + b, int: true },
  { name: 'sub', arity: 2, wgsl: 'a - b', cpu: (a, b) => a - b, int: true },
  { name: 'mul', arity: 2, wgsl: 'a * b', cpu: (a, b) => a * b, int: true },
  { name: 'div', arity: 2, wgsl: 'a / b', cpu: (a, b) => a / b, domain: 'nonzero' },
  { name: 'pow', arity: 2, wgsl: 'pow(a, b)', cpu: (a, b) => Math.pow(a, b), domain: 'positive' },
  { name: 'maximum', arity: 2, wgsl: 'max(a, b)', cpu: (a, b) => Math.max(a, b), int: true },
  { name: 'minimum', arity: 2, wgsl: 'min(a, b)', cpu: (a, b) => Math.min(a, b), int: true },
  { name: 'eq', arity: 2, wgsl: 'select(0u, 1u, a == b)', cpu: (a, b) => +(a === b), out: 'u32', int: true },
  { name: 'ne', arity: 2, wgsl: 'select(0u, 1u, a != b)', cpu: (a, b) => +(a !== b), out: 'u32', int: true },
  { name: 'lt', arity: 2, wgsl: 'select(0u, 1u, a < b)', cpu: (a, b) => +(a < b), out: 'u32', int: true },
  { name: 'le', arity: 2, wgsl: 'select(0u, 1u, a <= b)', cpu: (a, b) => +(a <= b), out: 'u32', int: true },
  { name: 'gt', arity: 2, wgsl: 'select(0u, 1u, a > b)', cpu: (a, b) => +(a > b), out: 'u32', int: true },
  { name: 'ge', arity: 2, wgsl: 'select(0u, 1u, a >= b)', cpu: (a, b) => +(a >= b), out: 'u32', int: true },
];

export const TERNARY: EwEntry[] = [
  // where(cond, a, b): cond is any dtype, nonzero = true; output takes the dtype of a.
  { name: 'where', arity: 3, wgsl: 'select(c, b, a != TA(0))', cpu: (a, b, c) => (a !== 0 ? b : c), int: true, outFrom: 1 },
];

// Fused backward kernels: one dispatch per gradient instead of two or three primitive ops.
// Convention: a = incoming gradient g, b = the forward input x (or output y where named), c = the other operand.
const phi = (x: number) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
export const BACKWARD: EwEntry[] = [
  { name: 'relu_bwd', arity: 2, wgsl: 'select(0.0, a, b > 0.0)', cpu: (a, b) => (b > 0 ? a : 0), domain: 'nonzero' },
  { name: 'relu6_bwd', arity: 2, wgsl: 'select(0.0, a, b > 0.0 && b < 6.0)', cpu: (a, b) => (b > 0 && b < 6 ? a : 0), domain: 'nonzero' },
  { name: 'gelu_bwd', arity: 2, wgsl: 'a * (0.5 * (1.0 + erf_(b * 0.70710678118654752)) + b * 0.3989422804014327 * exp(-0.5 * b * b))', cpu: (a, b) => a * (0.5 * (1 + erf(b * SQRT1_2)) + b * phi(b)) },
  { name: 'tanh_bwd', arity: 2, wgsl: 'a * (1.0 - b * b)', cpu: (a, b) => a * (1 - b * b) },
  { name: 'sigmoid_bwd', arity: 2, wgsl: 'a * b * (1.0 - b)', cpu: (a, b) => a * b * (1 - b) },
  { name: 'hardsigmoid_bwd', arity: 2, wgsl: 'select(0.0, a / 6.0, b > -3.0 && b < 3.0)', cpu: (a, b) => (b > -3 && b < 3 ? a / 6 : 0), domain: 'nonzero' },
  { name: 'abs_bwd', arity: 2, wgsl: 'a * sign(b)', cpu: (a, b) => a * Math.sign(b), domain: 'nonzero' },
  { name: 'clamp_bwd', arity: 2, wgsl: 'select(0.0, a, b >= p0 && b <= p1)', cpu: (a, b, _c, p0, p1) => (b >= p0 && b <= p1 ? a : 0), testParams: [-0.5, 0.7] },
  { name: 'sqrt_bwd', arity: 2, wgsl: 'a * 0.5 / b', cpu: (a, b) => (a * 0.5) / b, domain: 'positive' },
  { name: 'rsqrt_bwd', arity: 2, wgsl: 'a * -0.5 * b * b * b', cpu: (a, b) => a * -0.5 * b * b * b },
  { name: 'reciprocal_bwd', arity: 2, wgsl: '-a * b * b', cpu: (a, b) => -a * b * b },
  { name: 'pows_bwd', arity: 2, wgsl: 'a * p0 * pow(b, p0 - 1.0)', cpu: (a, b, _c, p0) => a * p0 * Math.pow(b, p0 - 1), domain: 'positive', testParams: [2.5, 0] },
  { name: 'square_bwd', arity: 2, wgsl: 'a * 2.0 * b', cpu: (a, b) => a * 2 * b },
  // d(a/b)/db = -g * a / b^2, with (g, a, b).
  { name: 'div_bwd_b', arity: 3, wgsl: '-a * b / (c * c)', cpu: (a, b, c) => (-a * b) / (c * c), domain: 'nonzero' },
  // d(a^b)/da = g * b * a^(b-1) and d(a^b)/db = g * a^b * log(a), with (g, a, b).
  { name: 'pow_bwd_a', arity: 3, wgsl: 'a * c * pow(b, c - 1.0)', cpu: (a, b, c) => a * c * Math.pow(b, c - 1), domain: 'positive' },
  { name: 'pow_bwd_b', arity: 3, wgsl: 'a * pow(b, c) * log(b)', cpu: (a, b, c) => a * Math.pow(b, c) * Math.log(b), domain: 'positive' },
  // max/min: the gradient goes to the larger (smaller) operand, split in half on ties, as in PyTorch. (g, x, other)
  { name: 'maximum_bwd', arity: 3, wgsl: 'select(select(0.0, a, b > c), 0.5 * a, b == c)', cpu: (a, b, c) => (b === c ? 0.5 * a : b > c ? a : 0) },
  { name: 'minimum_bwd', arity: 3, wgsl: 'select(select(0.0, a, b < c), 0.5 * a, b == c)', cpu: (a, b, c) => (b === c ? 0.5 * a : b < c ? a : 0) },
  // where's gradients: (cond, g) -> g where cond holds / where it does not.
  { name: 'mask_keep', arity: 2, wgsl: 'select(TB(0), b, a != TA(0))', cpu: (a, b) => (a !== 0 ? b : 0), int: true, outFrom: 1 },
  { name: 'mask_drop', arity: 2, wgsl: 'select(b, TB(0), a != TA(0))', cpu: (a, b) => (a !== 0 ? 0 : b), int: true, outFrom: 1 },
];

export const EW_TABLE: Map<string, EwEntry> = new Map([...UNARY, ...BINARY, ...TERNARY, ...BACKWARD].map((e) => [e.name, e]));

/** Ops with no gradient by definition (their outputs are masks). */
export const EW_NONDIFF = new Set(['sign', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', ...BACKWARD.map((e) => e.name)]);

/** WGSL helpers the expressions may call. */
export const EW_PRELUDE = `${WGSL_RANDOM}
fn erf_(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26, |error| < 1.5e-7: below f32 resolution of GELU's output.
  let s = sign(x);
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-z * z);
  return s * y;
}`;
