// Softmax / log-softmax over the last axis (attention rows of 144 or 22 keys, class rows of 2): three streaming
// passes, no barriers. Two row strategies from one template:
//   thread    one invocation per row (no subgroup support needed);
//   subgroup  one subgroup per row: lanes read consecutive elements (no per-lane gathers, which is what costs
//             on llvmpipe) and combine with subgroupMax/subgroupAdd.
// The optional additive mask is read through broadcast strides decoded once per row.
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, dispatch, grid1d, wgslOffsetFn } from '../common.ts';
import { getRuntime } from '../../runtime/device.ts';

const WG = 64;

type RowMode = 'thread' | 'subgroup';

/**
 * Measured on lavapipe (64x144x144): a thread per row with vec4 loads 2.4 ms, a subgroup per row 3.1 ms; so rows
 * under 1024 go per thread there. On real GPUs a thread per row would read uncoalesced, so rows go per subgroup.
 * FIANET_SOFTMAX_ROWS=thread|subgroup overrides (tuning).
 */
function rowMode(n: number): { mode: RowMode; S: number } {
  const r = getRuntime().report;
  const forced = process.env.FIANET_SOFTMAX_ROWS;
  const canSubgroup = r.subgroupSize > 0 && r.subgroupSize <= WG;
  const want = forced === 'thread' || forced === 'subgroup' ? forced : r.variant === 'subgroup' && n < 1024 ? 'thread' : 'subgroup';
  return want === 'subgroup' && canSubgroup ? { mode: 'subgroup', S: r.subgroupSize } : { mode: 'thread', S: 1 };
}

/** Header shared by the kernels: row index, lane, and the two row reductions for the chosen strategy. */
function rowPrelude(mode: RowMode): { enable: string; params: string; row: string; lane: string; step: string; max: (v: string) => string; add: (v: string) => string } {
  if (mode === 'thread') {
    return {
      enable: '', params: WGSL_IDS, row: `(wid.y * nwg.x + wid.x) * ${WG}u + lid.x`, lane: '0u', step: '1u',
      max: (v) => v, add: (v) => v,
    };
  }
  return {
    enable: 'enable subgroups;',
    params: `${WGSL_IDS}, @builtin(subgroup_invocation_id) sgLane: u32, @builtin(subgroup_size) sgSize: u32`,
    row: `(wid.y * nwg.x + wid.x) * (${WG}u / sgSize) + lid.x / sgSize`, lane: 'sgLane', step: 'sgSize',
    max: (v) => `subgroupMax(${v})`, add: (v) => `subgroupAdd(${v})`,
  };
}

/**
 * Forward kernel. With vec4 (row length % 4 == 0, aligned rows) every lane reads 16 bytes per load; the mask,
 * which may be broadcast along the row, is still read per element.
 */
function forwardSource(log: boolean, masked: boolean, mode: RowMode, vec4: boolean, maskRank: number): string {
  const R = rowPrelude(mode);
  const T = vec4 ? 'vec4<f32>' : 'f32';
  const n = vec4 ? '(u.n / 4u)' : 'u.n';
  const maskAt = (e: string) => `M[mo + (${e}) * u.mCol]`;
  const mask = !masked ? '' : vec4
    ? ` + vec4<f32>(${[0, 1, 2, 3].map((c) => maskAt(`4u * j + ${c}u`)).join(', ')})`
    : ` + ${maskAt('j')}`;
  const hmax = vec4 ? (v: string) => `max(max(${v}.x, ${v}.y), max(${v}.z, ${v}.w))` : (v: string) => v;
  const hsum = vec4 ? (v: string) => `(${v}.x + ${v}.y + ${v}.z + ${v}.w)` : (v: string) => v;
  return `${R.enable}
struct U { rows: u32, n: u32, _rank: u32, mCol: u32, mOff: u32, xOff: u32, oOff: u32, _c: u32,
  shape: array<vec4<u32>, 2>, mStr: array<vec4<u32>, 2> };
@group(1) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
${masked ? '@group(0) @binding(2) var<storage, read> M: array<f32>;' : ''}
@group(0) @binding(${masked ? 3 : 2}) var<storage, read_write> O: array<${T}>;
${masked ? wgslOffsetFn('maskOffset', maskRank, 'u.shape', ['u.mStr']) : ''}
@compute @workgroup_size(${WG})
fn main(${R.params}) {
  let row = ${R.row};
  // Rows past the end recompute the last row and skip the writes: subgroup ops need every lane present.
  let r = min(row, u.rows - 1u);
  let base = r * ${n};
  let xb = u.xOff + base;
  let ob = u.oOff + base;
  ${masked ? 'let mo = maskOffset(r, u.mOff);' : ''}
  // Online max and sum in one pass (the sum is rescaled when the max grows), then one write pass: the row is
  // read twice instead of three times.
  var mx = -3.4028234663852886e38;
  var s = 0.0;
  for (var j = ${R.lane}; j < ${n}; j += ${R.step}) {
    let v = X[xb + j]${mask};
    let m2 = max(mx, ${hmax('v')});
    s = s * exp(mx - m2) + ${hsum('exp(v - m2)')};
    mx = m2;
  }
  let rowMax = ${R.max('mx')};
  s = ${R.add('s * exp(mx - rowMax)')};
  mx = rowMax;
  ${log ? 'let ls = log(s);' : 'let inv = 1.0 / s;'}
  if (row < u.rows) {
    for (var j = ${R.lane}; j < ${n}; j += ${R.step}) {
      let v = X[xb + j]${mask} - mx;
      O[ob + j] = ${log ? 'v - ls' : 'exp(v) * inv'};
    }
  }
}`;
}

function rowsGrid(rows: number, mode: RowMode, S: number): [number, number, number] {
  return grid1d(mode === 'thread' ? rows : rows * S, WG);
}

/** x and out: `rows` dense rows of n from their offsets (vec4 offsets are in elements, so vec4 needs them % 4). */
export function softmaxWgsl(x: Tensor, out: Tensor, rows: number, n: number, log: boolean,
  mask: { t: Tensor; rowShape: number[]; rowStrides: number[]; colStride: number } | null): void {
  const vec4 = n % 4 === 0 && x.offset % 4 === 0 && out.offset % 4 === 0;
  const q = vec4 ? 4 : 1;
  const u = new Uniforms().u32(rows).u32(n).u32(mask?.rowShape.length ?? 0).u32(mask?.colStride ?? 0)
    .u32(mask?.t.offset ?? 0).u32(x.offset / q).u32(out.offset / q).u32(0).arr8(mask?.rowShape ?? [], 1).arr8(mask?.rowStrides ?? []);
  const { mode, S } = rowMode(n);
  const maskRank = mask?.rowShape.length ?? 0;
  const key = `softmax:${log ? 'log' : 'exp'}:${mask ? `mask${maskRank}` : 'plain'}:${mode}${vec4 ? ':vec4' : ''}`;
  const ts = mask ? [x, mask.t, out] : [x, out];
  dispatch(key, mask ? ['read', 'read', 'rw'] : ['read', 'rw'], () => forwardSource(log, !!mask, mode, vec4, maskRank), ts, u, rowsGrid(rows, mode, S), key);
}

function backwardSource(log: boolean, mode: RowMode, vec4: boolean): string {
  const R = rowPrelude(mode);
  const T = vec4 ? 'vec4<f32>' : 'f32';
  const n = vec4 ? '(u.n / 4u)' : 'u.n';
  const hsum = vec4 ? (v: string) => `dot(${v}, vec4<f32>(1.0))` : (v: string) => v;
  return `${R.enable}
struct U { rows: u32, n: u32, gOff: u32, yOff: u32, oOff: u32, _a: u32, _b: u32, _c: u32 };
@group(1) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> G: array<${T}>;
@group(0) @binding(2) var<storage, read> Y: array<${T}>;
@group(0) @binding(3) var<storage, read_write> O: array<${T}>;
@compute @workgroup_size(${WG})
fn main(${R.params}) {
  let row = ${R.row};
  let r = min(row, u.rows - 1u);
  let gb = u.gOff + r * ${n};
  let yb = u.yOff + r * ${n};
  let ob = u.oOff + r * ${n};
  var s = 0.0;
  for (var j = ${R.lane}; j < ${n}; j += ${R.step}) { s += ${hsum(log ? 'G[gb + j]' : 'G[gb + j] * Y[yb + j]')}; }
  s = ${R.add('s')};
  if (row < u.rows) {
    for (var j = ${R.lane}; j < ${n}; j += ${R.step}) {
      O[ob + j] = ${log ? 'G[gb + j] - exp(Y[yb + j]) * s' : 'Y[yb + j] * (G[gb + j] - s)'};
    }
  }
}`;
}

/** g, y and out: `rows` dense rows of n from their offsets. */
export function softmaxBackwardWgsl(g: Tensor, y: Tensor, out: Tensor, rows: number, n: number, log: boolean): void {
  const vec4 = n % 4 === 0 && g.offset % 4 === 0 && y.offset % 4 === 0 && out.offset % 4 === 0;
  const q = vec4 ? 4 : 1;
  const u = new Uniforms().u32(rows).u32(n).u32(g.offset / q).u32(y.offset / q).u32(out.offset / q).u32(0).u32(0).u32(0);
  const { mode, S } = rowMode(n);
  const key = `softmax_bwd:${log ? 'log' : 'exp'}:${mode}${vec4 ? ':vec4' : ''}`;
  dispatch(key, ['read', 'read', 'rw'], () => backwardSource(log, mode, vec4), [g, y, out], u, rowsGrid(rows, mode, S), key);
}
