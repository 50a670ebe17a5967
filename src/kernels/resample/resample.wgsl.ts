// WGSL kernels for 2-D resampling of NCHW planes, from one template: a mode supplies three per-axis functions
// (the first input tap of an output index, the tap count, and the weight of input i for output o) plus the range
// of outputs that can reach input i. The forward gives each output pixel one invocation summing its taps; the
// backward is the GATHER form, one axis at a time (W, then H): each input index sums the gradient of every output
// that reads it, so it needs no atomics and is deterministic. The candidate range is a superset from the inverse
// mapping (one index of slack for float rounding); weight() recomputes the forward's exact index arithmetic and is
// 0 outside it, so the gather sums exactly the forward's taps.
import { empty, type Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, dispatch, gridRows } from '../common.ts';
import type { ResampleMode, ResamplePlan } from './resample.cpu.ts';

const WG = 64;

// Per-axis functions. n = input size, m = output size, s = float32 scale (see resample.cpu.ts).
const MODE_FNS: Record<ResampleMode, string> = {
  bilinear: `
fn src(o: u32, s: f32) -> f32 {
  if (u.align != 0u) { return s * f32(o); }
  return max(s * (f32(o) + 0.5) - 0.5, 0.0);
}
fn first(o: u32, n: u32, m: u32, s: f32) -> u32 { return min(u32(floor(src(o, s))), n - 1u); }
fn count(o: u32, n: u32, m: u32, s: f32) -> u32 { return select(1u, 2u, first(o, n, m, s) < n - 1u); }
fn weight(o: u32, i: u32, n: u32, m: u32, s: f32) -> f32 {
  let x = src(o, s);
  let i0 = min(u32(floor(x)), n - 1u);
  let i1 = min(i0 + 1u, n - 1u);
  let l1 = clamp(x - f32(i0), 0.0, 1.0);
  return select(0.0, 1.0 - l1, i == i0) + select(0.0, l1, i == i1);
}
// Outputs whose source position lies in [i - 1, i + 1): src = s * o + c, c = 0 or 0.5 s - 0.5.
fn candLo(i: u32, n: u32, m: u32, s: f32) -> u32 {
  if (s <= 0.0) { return 0u; }
  let c = select(0.5 * s - 0.5, 0.0, u.align != 0u);
  return u32(clamp(floor((f32(i) - 1.0 - c) / s) - 1.0, 0.0, f32(m)));
}
fn candHi(i: u32, n: u32, m: u32, s: f32) -> u32 {
  if (s <= 0.0) { return m; }
  let c = select(0.5 * s - 0.5, 0.0, u.align != 0u);
  return u32(clamp(ceil((f32(i) + 1.0 - c) / s) + 1.0, 0.0, f32(m)));
}`,
  nearest: `
fn first(o: u32, n: u32, m: u32, s: f32) -> u32 { return min(u32(floor(f32(o) * s)), n - 1u); }
fn count(o: u32, n: u32, m: u32, s: f32) -> u32 { return 1u; }
fn weight(o: u32, i: u32, n: u32, m: u32, s: f32) -> f32 { return select(0.0, 1.0, first(o, n, m, s) == i); }
fn candLo(i: u32, n: u32, m: u32, s: f32) -> u32 { return u32(clamp(floor(f32(i) / s) - 1.0, 0.0, f32(m))); }
fn candHi(i: u32, n: u32, m: u32, s: f32) -> u32 {
  if (i + 1u >= n) { return m; }
  return u32(clamp(ceil(f32(i + 1u) / s) + 1.0, 0.0, f32(m)));
}`,
  // Integer arithmetic: start = floor(o n / m), end = ceil((o + 1) n / m).
  area: `
fn first(o: u32, n: u32, m: u32, s: f32) -> u32 { return (o * n) / m; }
fn count(o: u32, n: u32, m: u32, s: f32) -> u32 { return ((o + 1u) * n + m - 1u) / m - (o * n) / m; }
fn weight(o: u32, i: u32, n: u32, m: u32, s: f32) -> f32 {
  let a = first(o, n, m, s);
  let c = count(o, n, m, s);
  return select(0.0, 1.0 / f32(c), i >= a && i < a + c);
}
fn candLo(i: u32, n: u32, m: u32, s: f32) -> u32 { return max((i * m) / n, 1u) - 1u; }
fn candHi(i: u32, n: u32, m: u32, s: f32) -> u32 { return min(((i + 1u) * m + n - 1u) / n + 1u, m); }`,
};

const HEAD = `
struct U { _total: u32, inH: u32, inW: u32, outH: u32, outW: u32, align: u32, scaleH: f32, scaleW: f32, xOff: u32, yOff: u32, _c: u32, _d: u32 };
@group(1) @binding(0) var<uniform> u: U;`;

// Forward pieces per mode: `Row` holds what an output row shares (computed once per invocation), `pix` gives one
// output pixel. bilinear and nearest are closed forms (a fixed 4 or 1 loads: on llvmpipe, loops with per-lane
// trip counts and re-evaluated weights cost far more than the loads); area walks its window.
const FORWARD_FNS: Record<ResampleMode, string> = {
  bilinear: `
struct Row { r0: u32, r1: u32, lh: f32 };
fn rowOf(xb: u32, oh: u32) -> Row {
  let sh = src(oh, u.scaleH);
  let h0 = min(u32(floor(sh)), u.inH - 1u);
  let h1 = min(h0 + 1u, u.inH - 1u);
  return Row(xb + h0 * u.inW, xb + h1 * u.inW, clamp(sh - f32(h0), 0.0, 1.0));
}
fn pix(r: Row, ow: u32) -> f32 {
  let sw = src(ow, u.scaleW);
  let w0 = min(u32(floor(sw)), u.inW - 1u);
  let w1 = min(w0 + 1u, u.inW - 1u);
  let lw = clamp(sw - f32(w0), 0.0, 1.0);
  return (1.0 - r.lh) * ((1.0 - lw) * X[r.r0 + w0] + lw * X[r.r0 + w1]) + r.lh * ((1.0 - lw) * X[r.r1 + w0] + lw * X[r.r1 + w1]);
}`,
  nearest: `
struct Row { r: u32 };
fn rowOf(xb: u32, oh: u32) -> Row { return Row(xb + first(oh, u.inH, u.outH, u.scaleH) * u.inW); }
fn pix(r: Row, ow: u32) -> f32 { return X[r.r + first(ow, u.inW, u.outW, u.scaleW)]; }`,
  area: `
struct Row { rb: u32, hc: u32 };
fn rowOf(xb: u32, oh: u32) -> Row { return Row(xb + first(oh, u.inH, u.outH, u.scaleH) * u.inW, count(oh, u.inH, u.outH, u.scaleH)); }
fn pix(r: Row, ow: u32) -> f32 {
  let wf = first(ow, u.inW, u.outW, u.scaleW);
  let wc = count(ow, u.inW, u.outW, u.scaleW);
  var acc = 0.0;
  for (var a = 0u; a < r.hc; a++) {
    let rb = r.rb + a * u.inW + wf;
    var row = 0.0;
    for (var b = 0u; b < wc; b++) { row += X[rb + b]; }
    acc += row;
  }
  return acc / f32(r.hc * wc);
}`,
};

/**
 * V = 4 (output width % 4 == 0): an invocation writes four adjacent outputs of a row as one vec4 store, sharing
 * the row's work and the index arithmetic.
 */
function forwardSource(mode: ResampleMode, V: number): string {
  const store = V === 4
    ? 'Y[(u.yOff + idx) / 4u] = vec4<f32>(pix(r, ow), pix(r, ow + 1u), pix(r, ow + 2u), pix(r, ow + 3u));'
    : 'Y[u.yOff + idx] = pix(r, ow);';
  return `${HEAD}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<${V === 4 ? 'vec4<f32>' : 'f32'}>;
${MODE_FNS[mode]}
${FORWARD_FNS[mode]}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  // Grid (columns / (${WG} V), rows, planes): no per-lane integer division (llvmpipe scalarizes vector udiv).
  let ow = (wid.x * ${WG}u + lid.x) * ${V}u;
  if (ow >= u.outW) { return; }
  let oh = wid.y;
  let idx = (wid.z * u.outH + oh) * u.outW + ow;
  let r = rowOf(u.xOff + wid.z * u.inH * u.inW, oh);
  ${store}
}`;
}

/**
 * One axis of the separable backward, in gather form: src (outer, m, inner) -> dst (outer, n, inner) with
 * dst[o, i, k] = sum over j in cand(i) of weight(j, i) * src[o, j, k]. Run along W (inner = 1), then along H
 * (inner = inW): each pass reads ~taps values per output instead of taps² for a one-pass 2-D gather.
 * The launch grid carries the indices, so no lane divides (llvmpipe scalarises vector division): along H, lanes
 * cover k and a workgroup shares one i (its candidates and weights are the same on every lane); along W
 * (inner = 1), lanes cover i. Workgroup rows past 65535 fold into z.
 */
function axisGatherSource(mode: ResampleMode, lanesOnInner: boolean): string {
  return `
struct U { rows: u32, n: u32, m: u32, inner: u32, align: u32, scale: f32, srcOff: u32, dstOff: u32 };
@group(1) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> SRC: array<f32>;
@group(0) @binding(2) var<storage, read_write> DST: array<f32>;
${MODE_FNS[mode]}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let lane = wid.x * ${WG}u + lid.x;
  let row = wid.z * nwg.y + wid.y;
  ${lanesOnInner
    ? `// row = (o, i): o outer, i the gathered index.
  if (lane >= u.inner || row >= u.rows) { return; }
  let o = row / u.n;
  let i = row - o * u.n;
  let k = lane;`
    : `// row = o; lanes are i.
  if (lane >= u.n || row >= u.rows) { return; }
  let o = row;
  let i = lane;
  let k = 0u;`}
  let sb = u.srcOff + o * u.m * u.inner + k;
  let j0 = candLo(i, u.n, u.m, u.scale);
  let j1 = candHi(i, u.n, u.m, u.scale);
  var acc = 0.0;
  for (var j = j0; j < j1; j++) {
    let w = weight(j, i, u.n, u.m, u.scale);
    if (w != 0.0) { acc += w * SRC[sb + j * u.inner]; }
  }
  DST[u.dstOff + (o * u.n + i) * u.inner + k] = acc;
}`;
}

function uniforms(p: ResamplePlan, x: Tensor, y: Tensor): Uniforms {
  return new Uniforms().u32(y.size).u32(p.inH).u32(p.inW).u32(p.outH).u32(p.outW).u32(p.alignCorners ? 1 : 0).f32(p.scaleH).f32(p.scaleW)
    .u32(x.offset).u32(y.offset).u32(0).u32(0);
}

/** x (planes, inH, inW) -> y (planes, outH, outW), both dense from their offsets. */
export function resampleWgsl(x: Tensor, y: Tensor, p: ResamplePlan): void {
  const V = p.outW % 4 === 0 && y.offset % 4 === 0 ? 4 : 1;
  const key = `resample_fwd:${p.mode}:v${V}`;
  dispatch(key, ['read', 'rw'], () => forwardSource(p.mode, V), [x, y], uniforms(p, x, y), [Math.ceil(p.outW / (WG * V)), p.outH, p.planes], key);
}

/** g (planes, outH, outW) -> dx (planes, inH, inW), dense from their offsets: the gather along W into a scratch, then along H. */
export function resampleBackwardWgsl(g: Tensor, dx: Tensor, p: ResamplePlan): void {
  const pass = (src: Tensor, dst: Tensor, n: number, m: number, inner: number, scale: number) => {
    const onInner = inner > 1;
    const key = `resample_bwd_axis:${p.mode}:${onInner ? 'k' : 'i'}`;
    const rows = dst.size / (onInner ? inner : n);
    const u = new Uniforms().u32(rows).u32(n).u32(m).u32(inner).u32(p.alignCorners ? 1 : 0).f32(scale).u32(src.offset).u32(dst.offset);
    dispatch(key, ['read', 'rw'], () => axisGatherSource(p.mode, onInner), [src, dst], u, gridRows(onInner ? inner : n, rows, WG), key);
  };
  const t = empty([p.planes, p.outH, p.inW], dx.dtype, dx.device);
  pass(g, t, p.inW, p.outW, 1, p.scaleW);
  pass(t, dx, p.inH, p.outH, p.inW, p.scaleH);
  t.dispose();
}
