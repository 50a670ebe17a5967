// WGSL kernels for 2-D resampling of NCHW planes, from one template: a mode supplies three per-axis functions
// (the first input tap of an output index, the tap count, and the weight of input i for output o) plus the range
// of outputs that can reach input i. The forward gives each output pixel one invocation summing its taps; the
// backward is the GATHER form: each input pixel sums the gradient of every output that reads it, so it needs no
// atomics and is deterministic. The candidate range is a superset from the inverse mapping (slack of a couple
// of indices for float rounding); weight() recomputes the forward's exact index arithmetic and is 0 outside.
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, dispatch } from '../common.ts';
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
  return u32(clamp(floor((f32(i) - 1.0 - c) / s) - 2.0, 0.0, f32(m)));
}
fn candHi(i: u32, n: u32, m: u32, s: f32) -> u32 {
  if (s <= 0.0) { return m; }
  let c = select(0.5 * s - 0.5, 0.0, u.align != 0u);
  return u32(clamp(ceil((f32(i) + 1.0 - c) / s) + 2.0, 0.0, f32(m)));
}`,
  nearest: `
fn first(o: u32, n: u32, m: u32, s: f32) -> u32 { return min(u32(floor(f32(o) * s)), n - 1u); }
fn count(o: u32, n: u32, m: u32, s: f32) -> u32 { return 1u; }
fn weight(o: u32, i: u32, n: u32, m: u32, s: f32) -> f32 { return select(0.0, 1.0, first(o, n, m, s) == i); }
fn candLo(i: u32, n: u32, m: u32, s: f32) -> u32 { return u32(clamp(floor(f32(i) / s) - 2.0, 0.0, f32(m))); }
fn candHi(i: u32, n: u32, m: u32, s: f32) -> u32 {
  if (i + 1u >= n) { return m; }
  return u32(clamp(ceil(f32(i + 1u) / s) + 2.0, 0.0, f32(m)));
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
struct U { _total: u32, inH: u32, inW: u32, outH: u32, outW: u32, align: u32, scaleH: f32, scaleW: f32 };
@group(0) @binding(0) var<uniform> u: U;`;

// Forward bodies: bilinear and nearest in closed form (a fixed 4 or 1 loads: on llvmpipe loops with per-lane
// trip counts and re-evaluated weights cost far more than the loads); area walks its window.
const FORWARD_BODY: Record<ResampleMode, string> = {
  bilinear: `
  let sh = src(oh, u.scaleH);
  let h0 = min(u32(floor(sh)), u.inH - 1u);
  let h1 = min(h0 + 1u, u.inH - 1u);
  let lh = clamp(sh - f32(h0), 0.0, 1.0);
  let sw = src(ow, u.scaleW);
  let w0 = min(u32(floor(sw)), u.inW - 1u);
  let w1 = min(w0 + 1u, u.inW - 1u);
  let lw = clamp(sw - f32(w0), 0.0, 1.0);
  let r0 = xb + h0 * u.inW;
  let r1 = xb + h1 * u.inW;
  Y[idx] = (1.0 - lh) * ((1.0 - lw) * X[r0 + w0] + lw * X[r0 + w1]) + lh * ((1.0 - lw) * X[r1 + w0] + lw * X[r1 + w1]);`,
  nearest: `
  Y[idx] = X[xb + first(oh, u.inH, u.outH, u.scaleH) * u.inW + first(ow, u.inW, u.outW, u.scaleW)];`,
  area: `
  let hf = first(oh, u.inH, u.outH, u.scaleH);
  let hc = count(oh, u.inH, u.outH, u.scaleH);
  let wf = first(ow, u.inW, u.outW, u.scaleW);
  let wc = count(ow, u.inW, u.outW, u.scaleW);
  var acc = 0.0;
  for (var a = 0u; a < hc; a++) {
    let rb = xb + (hf + a) * u.inW + wf;
    var row = 0.0;
    for (var b = 0u; b < wc; b++) { row += X[rb + b]; }
    acc += row;
  }
  Y[idx] = acc / f32(hc * wc);`,
};

function forwardSource(mode: ResampleMode): string {
  return `${HEAD}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
${MODE_FNS[mode]}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  // Grid (columns / ${WG}, rows, planes): no per-lane integer division (llvmpipe scalarizes vector udiv).
  let ow = wid.x * ${WG}u + lid.x;
  if (ow >= u.outW) { return; }
  let oh = wid.y;
  let idx = (wid.z * u.outH + oh) * u.outW + ow;
  let xb = wid.z * u.inH * u.inW;
  ${FORWARD_BODY[mode]}
}`;
}

function backwardSource(mode: ResampleMode): string {
  return `${HEAD}
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> DX: array<f32>;
${MODE_FNS[mode]}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let iw = wid.x * ${WG}u + lid.x;
  if (iw >= u.inW) { return; }
  let ih = wid.y;
  let idx = (wid.z * u.inH + ih) * u.inW + iw;
  let gb = wid.z * u.outH * u.outW;
  let h0 = candLo(ih, u.inH, u.outH, u.scaleH);
  let h1 = candHi(ih, u.inH, u.outH, u.scaleH);
  let w0 = candLo(iw, u.inW, u.outW, u.scaleW);
  let w1 = candHi(iw, u.inW, u.outW, u.scaleW);
  // The column weights are the same for every row: evaluate them once (ranges up to 32 wide, i.e. up to ~15x
  // upsampling; wider ranges re-evaluate per row).
  var cw: array<f32, 32>;
  let cached = w1 - w0 <= 32u;
  if (cached) {
    for (var ow = w0; ow < w1; ow++) { cw[ow - w0] = weight(ow, iw, u.inW, u.outW, u.scaleW); }
  }
  var acc = 0.0;
  for (var oh = h0; oh < h1; oh++) {
    let wh = weight(oh, ih, u.inH, u.outH, u.scaleH);
    if (wh == 0.0) { continue; }
    var row = 0.0;
    let gr = gb + oh * u.outW;
    for (var ow = w0; ow < w1; ow++) {
      var ww: f32;
      if (cached) { ww = cw[ow - w0]; } else { ww = weight(ow, iw, u.inW, u.outW, u.scaleW); }
      if (ww != 0.0) { row += ww * G[gr + ow]; }
    }
    acc += wh * row;
  }
  DX[idx] = acc;
}`;
}

function uniforms(p: ResamplePlan, total: number): Uniforms {
  return new Uniforms().u32(total).u32(p.inH).u32(p.inW).u32(p.outH).u32(p.outW).u32(p.alignCorners ? 1 : 0).f32(p.scaleH).f32(p.scaleW);
}

/** x (planes, inH, inW) dense -> y (planes, outH, outW). */
export function resampleWgsl(x: Tensor, y: Tensor, p: ResamplePlan): void {
  const key = `resample_fwd:${p.mode}`;
  dispatch(key, ['read', 'rw'], () => forwardSource(p.mode), [x, y], uniforms(p, y.size), [Math.ceil(p.outW / WG), p.outH, p.planes], key);
}

/** g (planes, outH, outW) dense -> dx (planes, inH, inW), gather form. */
export function resampleBackwardWgsl(g: Tensor, dx: Tensor, p: ResamplePlan): void {
  const key = `resample_bwd:${p.mode}`;
  dispatch(key, ['read', 'rw'], () => backwardSource(p.mode), [g, dx], uniforms(p, dx.size), [Math.ceil(p.inW / WG), p.inH, p.planes], key);
}
