// Softmax / log-softmax over the last axis: one invocation per row (rows here are short, ≤ a few hundred:
// attention rows of 144 or 22 keys), three streaming passes, no barriers. The optional additive mask is read
// through broadcast strides decoded once per row.
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, WGSL_LINEAR_ID, dispatch, grid1d } from '../common.ts';

const WG = 64;

function forwardSource(log: boolean, masked: boolean): string {
  const m = (j: string) => (masked ? ` + M[mo + ${j} * u.mCol]` : '');
  return `
struct U { rows: u32, n: u32, rank: u32, mCol: u32, mOff: u32, _a: u32, _b: u32, _c: u32,
  shape: array<vec4<u32>, 2>, mStr: array<vec4<u32>, 2> };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> X: array<f32>;
${masked ? '@group(0) @binding(2) var<storage, read> M: array<f32>;' : ''}
@group(0) @binding(${masked ? 3 : 2}) var<storage, read_write> O: array<f32>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let r = ${WGSL_LINEAR_ID(WG)};
  if (r >= u.rows) { return; }
  let base = r * u.n;
  var mo = u.mOff;
  ${masked ? `var rem = r;
  for (var d = i32(u.rank) - 1; d >= 0; d--) {
    let dd = u32(d);
    let s = u.shape[dd / 4u][dd % 4u];
    mo += (rem % s) * u.mStr[dd / 4u][dd % 4u];
    rem = rem / s;
  }` : ''}
  var mx = -3.4028234663852886e38;
  for (var j = 0u; j < u.n; j++) { mx = max(mx, X[base + j]${m('j')}); }
  var s = 0.0;
  for (var j = 0u; j < u.n; j++) { s += exp(X[base + j]${m('j')} - mx); }
  ${log ? 'let ls = log(s);' : 'let inv = 1.0 / s;'}
  for (var j = 0u; j < u.n; j++) {
    let v = X[base + j]${m('j')} - mx;
    O[base + j] = ${log ? 'v - ls' : 'exp(v) * inv'};
  }
}`;
}

export function softmaxWgsl(x: Tensor, out: Tensor, rows: number, n: number, log: boolean,
  mask: { t: Tensor; rowShape: number[]; rowStrides: number[]; colStride: number } | null): void {
  const u = new Uniforms().u32(rows).u32(n).u32(mask?.rowShape.length ?? 0).u32(mask?.colStride ?? 0)
    .u32(mask?.t.offset ?? 0).u32(0).u32(0).u32(0).arr8(mask?.rowShape ?? [], 1).arr8(mask?.rowStrides ?? []);
  const key = `softmax:${log ? 'log' : 'exp'}:${mask ? 'mask' : 'plain'}`;
  const ts = mask ? [x, mask.t, out] : [x, out];
  dispatch(key, mask ? ['read', 'read', 'rw'] : ['read', 'rw'], () => forwardSource(log, !!mask), ts, u, grid1d(rows, WG), key);
}

function backwardSource(log: boolean): string {
  return `
struct U { rows: u32, n: u32, _a: u32, _b: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> Y: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let r = ${WGSL_LINEAR_ID(WG)};
  if (r >= u.rows) { return; }
  let base = r * u.n;
  var s = 0.0;
  for (var j = 0u; j < u.n; j++) { s += ${log ? 'G[base + j]' : 'G[base + j] * Y[base + j]'}; }
  for (var j = 0u; j < u.n; j++) {
    let i = base + j;
    O[i] = ${log ? 'G[i] - exp(Y[i]) * s' : 'Y[i] * (G[i] - s)'};
  }
}`;
}

export function softmaxBackwardWgsl(g: Tensor, y: Tensor, out: Tensor, rows: number, n: number, log: boolean): void {
  const u = new Uniforms().u32(rows).u32(n).u32(0).u32(0);
  const key = `softmax_bwd:${log ? 'log' : 'exp'}`;
  dispatch(key, ['read', 'read', 'rw'], () => backwardSource(log), [g, y, out], u, grid1d(rows, WG), key);
}
