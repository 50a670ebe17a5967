// Convolution as implicit GEMM on the shared template (no im2col buffer), NCHW at the API. Every layout but the
// pointwise one uses the template's two-level reduction (`taps`): the outer loop runs over the kernel taps
// (kh, kw), where the im2col decode, the padding test and the stride division happen once, and the inner loop over
// channels is a plain strided walk.
//   forward  C((oh,ow), co) = sum_{t, ci} X[b, ci, ih(t), iw(t)] Wt[co, t, ci],        batch = (b, group)
//   dgrad    dX((ih,iw), ci) = sum_{t, co} dY[b, co, oh(t), ow(t)] Wt[ci, t, co],     batch = (b, group)
//   wgrad    dW(co, ci) at tap z = sum_{(b,oh), ow} dY[b, co, oh, ow] X[b, ci, ih, iw], batch = (group, tap)
// plus `pointwise` (1x1, stride 1, no padding): forward is then a plain GEMM C(co, pixel) = W(co, ci) X(ci, pixel),
// read four pixels at a time. The weights are permuted so that the reduced channels are contiguous (four per
// load); the weight gradient reads the input NHWC (a copy) when that gives it four channels per load, else in place.
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, dispatch } from '../common.ts';
import { dense } from '../movement/movement.op.ts';
import { getRuntime } from '../../runtime/device.ts';
import { chooseMatmulVariant } from '../matmul/matmul.op.ts';
import { gemmProgram, SG_TM, TILE, type GemmLayout } from '../matmul/gemm.template.ts';
import { empty } from '../../tensor/tensor.ts';
import { reduceInto } from '../reduce/reduce.op.ts';
import type { ConvGeom } from './conv.cpu.ts';

// T: the outer reduction count; TC, Z: its chunking (the weight gradient's split reduction); py..Wp: the phase
// of a phased input gradient. oOff: the output's offset (a batch piece when split for the binding limit). cs/ps: the weight gradient's input strides per channel and per pixel (NCHW or NHWC).
const UNIFORM = `
struct U {
  M: u32, N: u32, K: u32, groups: u32,
  B: u32, Cin: u32, H: u32, W: u32,
  Cout: u32, KH: u32, KW: u32, OH: u32,
  OW: u32, sh: u32, sw: u32, ph: u32,
  pw: u32, dh: u32, dw: u32, aOff: u32,
  bOff: u32, T: u32, cs: u32, ps: u32,
  oOff: u32, TC: u32, Z: u32, _o3: u32,
  py: u32, px: u32, kh0: u32, kw0: u32,
  nkw: u32, Wp: u32, c0h: u32, c0w: u32,
};
@group(1) @binding(0) var<uniform> u: U;`;

// Bindings: 1 = A-side tensor, 2 = B-side tensor, 3 = output, 4 = optional bias. aOff/bOff are their offsets.
const bind = (aVec: boolean, bVec: boolean, bias: boolean) => `
@group(0) @binding(1) var<storage, read> TA: array<${aVec ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read> TB: array<${bVec ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
${bias ? '@group(0) @binding(4) var<storage, read> BIAS: array<f32>;' : ''}`;

// Weights Wt as rows of T*(row length) with `stride` elements between taps; B(k, n) of tap t is Wt[row(n) + t*stride + k].
const tapWeights = (vec: boolean, stride: string, tap = 't') => `
fn tapB(c: u32, t: u32) -> u32 { return c + (${tap}) * ${stride}; }
fn loadB(c: u32, k: u32) -> f32 { return ${vec ? 'TB[(c + k) / 4u][(c + k) % 4u]' : 'TB[c + k]'}; }
${vec ? 'fn loadB4(c: u32, k: u32) -> vec4<f32> { return TB[(c + k) / 4u]; }' : ''}`;

// The forward's im2col steps, shared by its two layouts: output pixel p of batch z starts as (image base, ih0,
// iw0, 1); moved to tap t it is (the tap's pixel offset, ih0, iw0, inside), so a padding tap reads zeros without
// a per-channel bounds test.
const MOVE_PIXEL = `fn pixelStart(z: u32, p: u32, off: u32) -> vec4<i32> {
  let oh = p / u.OW;
  let ow = p - oh * u.OW;
  let plane = (z / u.groups) * u.Cin + (z % u.groups) * u.K;
  return vec4<i32>(i32(off + plane * u.H * u.W), i32(oh * u.sh) - i32(u.ph), i32(ow * u.sw) - i32(u.pw), 1);
}
fn movePixel(r: vec4<i32>, t: u32) -> vec4<i32> {
  let kh = t / u.KW;
  let ih = r.y + i32(kh * u.dh);
  let iw = r.z + i32((t - kh * u.KW) * u.dw);
  let inside = ih >= 0 && ih < i32(u.H) && iw >= 0 && iw < i32(u.W);
  return vec4<i32>(select(0, r.x + ih * i32(u.W) + iw, inside), r.y, r.z, select(0, 1, inside));
}`;

// Output channels as rows, output pixels as columns (pointwise and channel-row forward layouts).
const storeChannelRows = (bias: boolean) => `fn storeC(z: u32, m: u32, n: u32, v: f32) {
  let co = (z % u.groups) * u.M + m;
  O[u.oOff + ((z / u.groups) * u.Cout + co) * u.N + n] = v${bias ? ' + BIAS[co]' : ''};
}`;

function pointwiseLayout(vecA: boolean, vecBn: boolean, bias: boolean): GemmLayout {
  return {
    key: `conv_1x1${vecA ? ':a4' : ''}${vecBn ? ':bn4' : ''}${bias ? ':bias' : ''}`,
    vecA,
    vecBn,
    wgsl: `${UNIFORM}${bind(vecA, vecBn, bias)}
alias RowA = u32;
alias ColB = u32;
fn rowA(z: u32, m: u32) -> u32 { return u.aOff + ((z % u.groups) * u.M + m) * u.K; }
fn loadA(r: u32, k: u32) -> f32 { return ${vecA ? 'TA[(r + k) / 4u][(r + k) % 4u]' : 'TA[r + k]'}; }
${vecA ? 'fn loadA4(r: u32, k: u32) -> vec4<f32> { return TA[(r + k) / 4u]; }' : ''}
fn colB(z: u32, n: u32) -> u32 { return u.bOff + ((z / u.groups) * u.Cin + (z % u.groups) * u.K) * u.N + n; }
fn loadB(c: u32, k: u32) -> f32 { return ${vecBn ? 'TB[(c + k * u.N) / 4u][(c + k * u.N) % 4u]' : 'TB[c + k * u.N]'}; }
${vecBn ? 'fn loadBn4(c: u32, k: u32) -> vec4<f32> { return TB[(c + k * u.N) / 4u]; }' : ''}
${storeChannelRows(bias)}`,
  };
}

/**
 * Forward: rows are output pixels, columns output channels of the group, the inner reduction the group's input
 * channels (K) read with stride H*W. RowA = (image base, ih0, iw0, 1) before tapA, (pixel offset, -, -, inside)
 * after: a padding tap reads zeros without a per-channel bounds test. Wt = W as (Cout, KH*KW, Cin/groups).
 */
function tapsForwardLayout(vec: boolean, bias: boolean): GemmLayout {
  return {
    key: `conv_fwd_taps${vec ? ':v4' : ''}${bias ? ':bias' : ''}`,
    taps: true,
    vecBk: vec,
    wgsl: `${UNIFORM}${bind(false, vec, bias)}
alias RowA = vec4<i32>;
alias ColB = u32;
fn rowA(z: u32, m: u32) -> vec4<i32> { return pixelStart(z, m, u.aOff); }
${MOVE_PIXEL}
fn tapA(r: vec4<i32>, t: u32) -> vec4<i32> { return movePixel(r, t); }
fn loadA(r: vec4<i32>, k: u32) -> f32 { return select(0.0, TA[u32(r.x) + k * u.H * u.W], r.w != 0); }
fn colB(z: u32, n: u32) -> u32 { return ((z % u.groups) * u.N + n) * u.T * u.K; }
${tapWeights(vec, 'u.K')}
fn storeC(z: u32, m: u32, n: u32, v: f32) {
  let co = (z % u.groups) * u.N + n;
  O[u.oOff + ((z / u.groups) * u.Cout + co) * u.M + m] = v${bias ? ' + BIAS[co]' : ''};
}`,
  };
}

/**
 * Forward with channel rows, for few output channels (fewer than a tile's 4S columns, which the pixel-row
 * layout would leave mostly idle): rows are the group's output channels, columns output pixels, the same taps
 * and channel reduction. A = Wt (Cout, KH*KW, Cin/groups) read four channels at a time (vecA); each column
 * carries its pixel's (offset, ih0, iw0, inside) state through the taps.
 */
function tapsForwardChannelRowsLayout(vecA: boolean, bias: boolean): GemmLayout {
  return {
    key: `conv_fwd_taps:corows${vecA ? ':a4' : ''}${bias ? ':bias' : ''}`,
    taps: true,
    vecA,
    wgsl: `${UNIFORM}${bind(vecA, false, bias)}
alias RowA = u32;
alias ColB = vec4<i32>;
fn rowA(z: u32, m: u32) -> u32 { return u.aOff + ((z % u.groups) * u.M + m) * u.T * u.K; }
fn tapA(r: u32, t: u32) -> u32 { return r + t * u.K; }
fn loadA(r: u32, k: u32) -> f32 { return ${vecA ? 'TA[(r + k) / 4u][(r + k) % 4u]' : 'TA[r + k]'}; }
${vecA ? 'fn loadA4(r: u32, k: u32) -> vec4<f32> { return TA[(r + k) / 4u]; }' : ''}
fn colB(z: u32, n: u32) -> vec4<i32> { return pixelStart(z, n, u.bOff); }
${MOVE_PIXEL}
fn tapB(c: vec4<i32>, t: u32) -> vec4<i32> { return movePixel(c, t); }
fn loadB(c: vec4<i32>, k: u32) -> f32 { return select(0.0, TB[u32(c.x) + k * u.H * u.W], c.w != 0); }
${storeChannelRows(bias)}`,
  };
}

// The input gradient's pixel steps, shared by its two layouts. pixel(m): input pixel m (of the phase when phased)
// as (ih, iw). dyStart: its state (dY plane base, ih + ph, iw + pw, 1); dyMove resolves tap t's (oh, ow) =
// ((ih + p - kh*d) / s, ...) and whether it lies inside, once per tap, as (pixel offset, -, -, inside).
// Any stride: every pixel visits every tap, and the taps whose (ih + p - kh*d) does not divide by s read zeros.
// `phased` (stride > 1, dilation 1): one launch per phase (ih mod sh, iw mod sw) = (u.py, u.px) over that phase's
// pixels, visiting only the taps kh = kh0 + sh*j (kh0 = (py + ph) mod sh, likewise kw) that reach it: for a
// 3x3 stride-2 convolution 9/4 taps per pixel instead of 9, no wasted multiplies. A phase with no taps stores zeros.
// `unit` (stride 1): (oh, ow) = (ih + p - kh*d, ...) without the per-lane divisions, which llvmpipe scalarises.
type DgradMode = 'unit' | 'strided' | 'phased';
const dgradPixels = (mode: DgradMode, dy: 'TA' | 'TB') => { const phased = mode === 'phased'; return `${phased
  ? `// Pixel m of the phase as its (row, column) in the phase grid; tap t as its (row, column) among the phase's taps.
fn phasePixel(m: u32) -> vec2<u32> {
  let i = m / u.Wp;
  return vec2<u32>(i, m - i * u.Wp);
}
fn phaseTap(t: u32) -> vec2<u32> {
  let j = t / u.nkw;
  return vec2<u32>(j, t - j * u.nkw);
}
fn pixel(m: u32) -> vec2<u32> { return vec2<u32>(u.py, u.px) + phasePixel(m) * vec2<u32>(u.sh, u.sw); }
fn tapHW(t: u32) -> vec2<u32> { return vec2<u32>(u.kh0, u.kw0) + phaseTap(t) * vec2<u32>(u.sh, u.sw); }`
  : `fn pixel(m: u32) -> vec2<u32> {
  let ih = m / u.W;
  return vec2<u32>(ih, m - ih * u.W);
}
fn tapHW(t: u32) -> vec2<u32> {
  let kh = t / u.KW;
  return vec2<u32>(kh, t - kh * u.KW);
}`}
fn dyStart(z: u32, m: u32, off: u32) -> vec4<i32> {
  let plane = (z / u.groups) * u.Cout + (z % u.groups) * u.K;
  ${phased
    // The phase's pixel (i, j) reaches oh = i + c0h - jh at its tap jh (c0h = (py + ph) / sh, from the host):
    // no division per tap.
    ? `let q = phasePixel(m);
  return vec4<i32>(i32(off + plane * u.OH * u.OW), i32(q.x + u.c0h), i32(q.y + u.c0w), 1);`
    : `let p = pixel(m);
  return vec4<i32>(i32(off + plane * u.OH * u.OW), i32(p.x + u.ph), i32(p.y + u.pw), 1);`}
}
fn dyMove(r: vec4<i32>, t: u32) -> vec4<i32> {
  ${phased
    ? `let j = phaseTap(t);
  let oh = r.y - i32(j.x);
  let ow = r.z - i32(j.y);
  let ok = oh >= 0 && ow >= 0 && oh < i32(u.OH) && ow < i32(u.OW);`
    : `let k = tapHW(t);
  let th = r.y - i32(k.x * u.dh);
  let tw = r.z - i32(k.y * u.dw);
  ${mode === 'unit' ? `let oh = th;
  let ow = tw;` : `let oh = th / i32(u.sh);
  let ow = tw / i32(u.sw);`}
  let ok = th >= 0 && tw >= 0 && ${mode === 'strided' ? 'th % i32(u.sh) == 0 && tw % i32(u.sw) == 0 && ' : ''}oh < i32(u.OH) && ow < i32(u.OW);`}
  return vec4<i32>(select(0, r.x + oh * i32(u.OW) + ow, ok), r.y, r.z, select(0, 1, ok));
}
fn loadDy(r: vec4<i32>, k: u32) -> f32 { return select(0.0, ${dy}[u32(r.x) + k * u.OH * u.OW], r.w != 0); }
// dX[b, ci, pixel(m)] of batch z = (b, group); ci counts over all groups. Unphased, m is the pixel's plane offset.
fn storeDx(z: u32, ci: u32, m: u32, v: f32) {
  ${phased ? `let p = pixel(m);
  O[u.oOff + (((z / u.groups) * u.Cin + ci) * u.H + p.x) * u.W + p.y] = v;` : 'O[u.oOff + ((z / u.groups) * u.Cin + ci) * u.H * u.W + m] = v;'}
}`; };

/**
 * Input gradient: rows are input pixels, columns input channels of the group, the inner reduction the group's
 * output channels (K) read with stride OH*OW. Wt = W as (Cin/groups, KH*KW, Cout).
 */
function tapsDgradLayout(vec: boolean, mode: DgradMode): GemmLayout {
  return {
    key: `conv_dgrad_taps:${mode}${vec ? ':v4' : ''}`,
    taps: true,
    vecBk: vec,
    wgsl: `${UNIFORM}${bind(false, vec, false)}
alias RowA = vec4<i32>;
alias ColB = u32;
${dgradPixels(mode, 'TA')}
fn rowA(z: u32, m: u32) -> vec4<i32> { return dyStart(z, m, u.aOff); }
fn tapA(r: vec4<i32>, t: u32) -> vec4<i32> { return dyMove(r, t); }
fn loadA(r: vec4<i32>, k: u32) -> f32 { return loadDy(r, k); }
fn colB(z: u32, n: u32) -> u32 { return n * u.KH * u.KW * u.Cout + (z % u.groups) * u.K; }
${tapWeights(vec, 'u.Cout', 'dot(tapHW(t), vec2<u32>(u.KW, 1u))')}
fn storeC(z: u32, m: u32, n: u32, v: f32) { storeDx(z, (z % u.groups) * u.N + n, m, v); }`,
  };
}

/**
 * Input gradient with channel rows, for few input channels per group (fewer than a tile's 4S columns, which the
 * pixel-row layout would leave idle: convnet's 16-channel stem output half filled them): rows are the group's
 * input channels, columns input pixels carrying their dY state through the taps. A = Wt (Cin/groups, KH*KW,
 * Cout) read four output channels at a time (vecA).
 */
function tapsDgradChannelRowsLayout(vecA: boolean, mode: DgradMode): GemmLayout {
  return {
    key: `conv_dgrad_taps:cirows:${mode}${vecA ? ':a4' : ''}`,
    taps: true,
    vecA,
    wgsl: `${UNIFORM}${bind(vecA, false, false)}
alias RowA = u32;
alias ColB = vec4<i32>;
${dgradPixels(mode, 'TB')}
fn rowA(z: u32, m: u32) -> u32 { return u.aOff + m * u.KH * u.KW * u.Cout + (z % u.groups) * u.K; }
fn tapA(r: u32, t: u32) -> u32 { return r + dot(tapHW(t), vec2<u32>(u.KW, 1u)) * u.Cout; }
fn loadA(r: u32, k: u32) -> f32 { return ${vecA ? 'TA[(r + k) / 4u][(r + k) % 4u]' : 'TA[r + k]'}; }
${vecA ? 'fn loadA4(r: u32, k: u32) -> vec4<f32> { return TA[(r + k) / 4u]; }' : ''}
fn colB(z: u32, n: u32) -> vec4<i32> { return dyStart(z, n, u.bOff); }
fn tapB(c: vec4<i32>, t: u32) -> vec4<i32> { return dyMove(c, t); }
fn loadB(c: vec4<i32>, k: u32) -> f32 { return loadDy(c, k); }
fn storeC(z: u32, m: u32, n: u32, v: f32) { storeDx(z, (z % u.groups) * u.M + m, n, v); }`,
  };
}

/**
 * Weight gradient: rows are the group's output channels, the reduction runs over (b, oh) = t outside and ow = k
 * inside (split into chunks of t: splitT). Columns are either the group's input channels, one GEMM per
 * (group, tap) z, or (tapCols) the (input channel, tap) pairs, one GEMM per group: with few input channels
 * (3 for an RGB stem) that fills the 4S-column tile instead of a sliver of it. dY rows are read four pixels at a
 * time (vecA: OW % 4 == 0); X through its channel and pixel strides u.cs/u.ps, so it is read NCHW in place or
 * from an NHWC copy, whose four channels per lane load together (vecBn, channel columns only).
 */
function tapsWgradLayout(vecA: boolean, vecBn: boolean, tapCols: boolean): GemmLayout {
  const group = tapCols ? 'z' : 'z / (u.KH * u.KW)';
  return {
    key: `conv_wgrad_taps${tapCols ? ':tapcols' : ''}${vecA ? ':a4' : ''}${vecBn ? ':bn4' : ''}`,
    taps: true,
    splitT: true,
    vecA,
    vecBn,
    wgsl: `${UNIFORM}${bind(vecA, vecBn, false)}
alias RowA = u32;
alias ColB = vec4<i32>;
fn rowA(z: u32, m: u32) -> u32 { return u.aOff + ((${group}) * u.M + m) * u.OH * u.OW; }
fn tapA(r: u32, t: u32) -> u32 {
  let b = t / u.OH;
  return r + b * u.Cout * u.OH * u.OW + (t - b * u.OH) * u.OW;
}
fn loadA(r: u32, k: u32) -> f32 { return ${vecA ? 'TA[(r + k) / 4u][(r + k) % 4u]' : 'TA[r + k]'}; }
${vecA ? 'fn loadA4(r: u32, k: u32) -> vec4<f32> { return TA[(r + k) / 4u]; }' : ''}
// (channel offset, kh*d - p, kw*d - p, -) before tapB; (row offset + channel offset, -, iw0, row inside) after.
fn colB(z: u32, n: u32) -> vec4<i32> {
  let khw = u.KH * u.KW;
  ${tapCols
    ? `let tap = n % khw;
  let ci = z * (u.N / khw) + n / khw;`
    : `let tap = z % khw;
  let ci = (z / khw) * u.N + n;`}
  let kh = tap / u.KW;
  return vec4<i32>(i32(u.bOff + ci * u.cs), i32(kh * u.dh) - i32(u.ph), i32((tap - kh * u.KW) * u.dw) - i32(u.pw), 0);
}
fn tapB(c: vec4<i32>, t: u32) -> vec4<i32> {
  let b = t / u.OH;
  let ih = i32((t - b * u.OH) * u.sh) + c.y;
  let inside = ih >= 0 && ih < i32(u.H);
  let row = i32(b * u.Cin * u.H * u.W) + ih * i32(u.W * u.ps);
  return vec4<i32>(c.x + select(0, row, inside), c.y, c.z, select(0, 1, inside));
}
fn pixB(c: vec4<i32>, k: u32) -> vec2<i32> {
  let iw = i32(k * u.sw) + c.z;
  let ok = c.w != 0 && iw >= 0 && iw < i32(u.W);
  return vec2<i32>(select(0, c.x + iw * i32(u.ps), ok), select(0, 1, ok));
}
fn loadB(c: vec4<i32>, k: u32) -> f32 {
  let p = pixB(c, k);
  return select(0.0, ${vecBn ? 'TB[u32(p.x) / 4u][u32(p.x) % 4u]' : 'TB[u32(p.x)]'}, p.y != 0);
}
${vecBn ? `fn loadBn4(c: vec4<i32>, k: u32) -> vec4<f32> {
  let p = pixB(c, k);
  return select(vec4<f32>(0.0), TB[u32(p.x) / 4u], p.y != 0);
}` : ''}
// z = chunk·Z + (group[, tap]): chunk c's partial dW lands in slice c of (chunks, Cout, Cin/groups, KH, KW).
fn storeC(zc: u32, m: u32, n: u32, v: f32) {
  let z = zc % u.Z;
  let slice = (zc / u.Z) * u.Z * u.M * u.N;
  ${tapCols
    ? 'O[u.oOff + slice + (z * u.M + m) * u.N + n] = v; // n = (ci, kh, kw) is dW\'s inner order'
    : `let khw = u.KH * u.KW;
  O[u.oOff + slice + (((z / khw) * u.M + m) * u.N + n) * khw + z % khw] = v;`}
}`,
  };
}

/** A phase (py, px) of a phased input gradient: first taps kh0, kw0; c0h = (py + ph) / sh, c0w likewise. */
interface Phase { py: number; px: number; kh0: number; kw0: number; nkw: number; Wp: number; c0h: number; c0w: number }

/** A dense copy of `x` with its axes permuted (no autograd: for use inside kernels). */
function permuted(x: Tensor, dims: number[]): Tensor {
  return dense(x.view(dims.map((d) => x.shape[d]!), dims.map((d) => x.strides[d]!), x.offset));
}

/** One GEMM launch: M x N per batch, `batches` of them, reduction u.T taps (0: none) of K. */
interface Launch {
  M: number; N: number; K: number; batches: number;
  T?: number;
  /** The weight gradient's input strides per channel and per pixel (NCHW or NHWC). */
  cs?: number; ps?: number;
  /** The weight gradient's split reduction: `chunks` partial results (splitT layouts). */
  chunks?: number;
  /** The phased input gradient's phase. */
  phase?: Phase;
}

function run(layout: GemmLayout, g: ConvGeom, l: Launch, a: Tensor, b: Tensor, out: Tensor, bias: Tensor | null, op: string): void {
  const { M, N, K, batches, T = 0, cs = 0, ps = 0, chunks = 1, phase } = l;
  const prog = gemmProgram(layout, chooseMatmulVariant(), getRuntime().report.subgroupSize, M, N, batches * chunks, Math.max(T, 1) * K);
  const tensors = bias ? [a, b, out, bias] : [a, b, out];
  const bindings: ('read' | 'rw')[] = bias ? ['read', 'read', 'rw', 'read'] : ['read', 'read', 'rw'];
  const u = new Uniforms()
    .u32(M).u32(N).u32(K).u32(g.groups)
    .u32(g.B).u32(g.Cin).u32(g.H).u32(g.W)
    .u32(g.Cout).u32(g.KH).u32(g.KW).u32(g.OH)
    .u32(g.OW).u32(g.sh).u32(g.sw).u32(g.ph)
    .u32(g.pw).u32(g.dh).u32(g.dw).u32(a.offset)
    .u32(b.offset).u32(T).u32(cs).u32(ps)
    .u32(out.offset).u32(Math.ceil(T / chunks)).u32(batches).u32(0)
    .u32(phase?.py ?? 0).u32(phase?.px ?? 0).u32(phase?.kh0 ?? 0).u32(phase?.kw0 ?? 0)
    .u32(phase?.nkw ?? 1).u32(phase?.Wp ?? 1).u32(phase?.c0h ?? 0).u32(phase?.c0w ?? 0);
  dispatch(prog.key, bindings, prog.code, tensors, u, prog.grid, op);
}

/** Workgroups the weight gradient aims for (lavapipe runs them on every core; fewer leave cores idle). */
const WGRAD_TARGET_GROUPS = 64;
/**
 * Tiles (256 threads each) it aims for with the tiled variant (GPUs): an H200 has 132 SMs, and 3x3 64->64 makes
 * 9 tiles of 64x64, each walking all B*OH*OW pixels: its forward+backward was 3.2 ms against the forward's 0.56.
 */
const WGRAD_TARGET_TILES = 256;
/**
 * Shortest reduction (rows x OW pixels) per chunk: each chunk's partial dW costs a write and a read, which
 * outweighs the parallelism on short reductions (fianet-tiny's small maps measured slower with chunks).
 */
const WGRAD_MIN_CHUNK = 1024;

const div4 = (...xs: number[]) => xs.every((x) => x % 4 === 0);
const isPointwise = (g: ConvGeom) => g.KH === 1 && g.KW === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0;

export function convForwardWgsl(x: Tensor, w: Tensor, bias: Tensor | null, g: ConvGeom, y: Tensor): void {
  const sub = chooseMatmulVariant() === 'subgroup';
  const cinG = g.Cin / g.groups;
  if (isPointwise(g)) {
    const N = g.OH * g.OW;
    run(pointwiseLayout(sub && div4(cinG, w.offset), sub && div4(N, x.offset), !!bias), g, { M: g.Cout / g.groups, N, K: cinG, batches: g.B * g.groups }, w, x, y, bias, 'conv2d');
    return;
  }
  const wt = permuted(w, [0, 2, 3, 1]); // (Cout, KH*KW, Cin/groups)
  const coutG = g.Cout / g.groups;
  if (sub && coutG < 4 * getRuntime().report.subgroupSize) {
    // Few output channels: channel rows (convnet's 3->16 stem: 2x faster than pixel rows at 16 of 32 columns).
    run(tapsForwardChannelRowsLayout(cinG % 4 === 0, !!bias), g, { M: coutG, N: g.OH * g.OW, K: cinG, batches: g.B * g.groups, T: g.KH * g.KW }, wt, x, y, bias, 'conv2d');
  } else {
    run(tapsForwardLayout(sub && cinG % 4 === 0, !!bias), g, { M: g.OH * g.OW, N: coutG, K: cinG, batches: g.B * g.groups, T: g.KH * g.KW }, x, wt, y, bias, 'conv2d');
  }
  wt.dispose();
}

export function convInputGradWgsl(dy: Tensor, w: Tensor, g: ConvGeom, dx: Tensor): void {
  const coutG = g.Cout / g.groups;
  const wt = permuted(w, [1, 2, 3, 0]); // (Cin/groups, KH*KW, Cout)
  const sub = chooseMatmulVariant() === 'subgroup';
  const vec = sub && coutG % 4 === 0;
  const cinG = g.Cin / g.groups;
  const Z = g.B * g.groups;
  // Few input channels: channel rows (convnet's 16-channel stem: pixel rows fill half of the 4S columns).
  const cirows = sub && cinG < 4 * getRuntime().report.subgroupSize;
  const layoutFor = (mode: DgradMode) => (cirows ? tapsDgradChannelRowsLayout(vec, mode) : tapsDgradLayout(vec, mode));
  const launch = (pixels: number, T: number, phase?: Phase) => (cirows
    ? { M: cinG, N: pixels, K: coutG, batches: Z, T, phase }
    : { M: pixels, N: cinG, K: coutG, batches: Z, T, phase });
  const [a, b] = cirows ? [wt, dy] : [dy, wt];
  if ((g.sh > 1 || g.sw > 1) && g.dh === 1 && g.dw === 1) {
    // One launch per phase of the input pixels, each over only the taps that reach it.
    const layout = layoutFor('phased');
    for (let py = 0; py < Math.min(g.sh, g.H); py++) {
      for (let px = 0; px < Math.min(g.sw, g.W); px++) {
        const [kh0, kw0] = [(py + g.ph) % g.sh, (px + g.pw) % g.sw];
        const nkh = kh0 < g.KH ? Math.ceil((g.KH - kh0) / g.sh) : 0;
        const nkw = kw0 < g.KW ? Math.ceil((g.KW - kw0) / g.sw) : 0;
        const [Hp, Wp] = [Math.ceil((g.H - py) / g.sh), Math.ceil((g.W - px) / g.sw)];
        const phase = { py, px, kh0, kw0, nkw: Math.max(nkw, 1), Wp, c0h: Math.floor((py + g.ph) / g.sh), c0w: Math.floor((px + g.pw) / g.sw) };
        run(layout, g, launch(Hp * Wp, nkh * nkw, phase), a, b, dx, null, 'conv2d_input_grad');
      }
    }
  } else {
    run(layoutFor(g.sh === 1 && g.sw === 1 ? 'unit' : 'strided'), g, launch(g.H * g.W, g.KH * g.KW), a, b, dx, null, 'conv2d_input_grad');
  }
  wt.dispose();
}

export function convWeightGradWgsl(dy: Tensor, x: Tensor, g: ConvGeom, dw: Tensor): void {
  const variant = chooseMatmulVariant();
  const sub = variant === 'subgroup';
  const cinG = g.Cin / g.groups;
  // An NHWC copy pays for itself only when it lets each lane load its four channels at once, and not for 1x1
  // kernels (fianet-tiny's many conv1d projections: 11 more dispatches per step and no faster step, measured).
  const S = getRuntime().report.subgroupSize || 1;
  const khw = g.KH * g.KW;
  // Fewer input channels than a tile has columns: (channel, tap) columns fill it (no NHWC copy then).
  const tapCols = sub && cinG < 4 * S && khw > 1;
  const nhwc = sub && cinG % 4 === 0 && !isPointwise(g) && !tapCols;
  const xs = nhwc ? permuted(x, [0, 2, 3, 1]) : x;
  const [cs, ps] = nhwc ? [1, g.Cin] : [g.H * g.W, 1];
  const layout = tapsWgradLayout(sub && g.OW % 4 === 0 && dy.offset % 4 === 0, nhwc, tapCols);
  const [M, N, Z, T] = tapCols ? [g.Cout / g.groups, cinG * khw, g.groups, g.B * g.OH] : [g.Cout / g.groups, cinG, g.groups * khw, g.B * g.OH];
  // Few output tiles over a long reduction: split the (b, oh) rows into chunks, one partial dW each.
  const tiles = sub ? Math.ceil(M / SG_TM) * Math.ceil(N / (4 * S)) * Z : Math.ceil(M / TILE) * Math.ceil(N / TILE) * Z;
  const target = sub ? WGRAD_TARGET_GROUPS : variant === 'tiled' ? WGRAD_TARGET_TILES : 1;
  const chunks = Math.max(1, Math.min(Math.ceil(target / tiles), Math.floor((T * g.OW) / WGRAD_MIN_CHUNK)));
  const launch: Launch = { M, N, K: g.OW, batches: Z, T, cs, ps, chunks };
  if (chunks === 1) {
    run(layout, g, launch, dy, xs, dw, null, 'conv2d_weight_grad');
  } else {
    const parts = empty([chunks, ...dw.shape], dw.dtype, dw.device);
    run(layout, g, launch, dy, xs, parts, null, 'conv2d_weight_grad');
    reduceInto('sum', parts, [0], false, 1, dw);
    parts.dispose();
  }
  if (xs !== x) xs.dispose();
}
