// WGSL kernels of the normalization family, generated from one template over the group layout of norm.cpu.ts.
// lavapipe runs a workgroup as SIMD over lanes and barriers are coroutine switches (PERF-NOTES.md), so every
// kernel gives one invocation a whole group (a LayerNorm row, a BatchNorm channel, an InstanceNorm (b, c)
// column) and walks it sequentially: no barriers, no atomics, results independent of scheduling.
// Variants baked into the text (and the pipeline key): affine kind, statistics mode, and the load width V:
// V = 4 binds the tensors as vec4 when the inner axis is dense and 16-byte aligned (LayerNorm rows with C % 4 == 0,
// BatchNorm planes with H*W % 4 == 0): on llvmpipe every per-lane load is a scalar gather, so 16-byte loads are
// what make a streaming op fast.
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, WGSL_LINEAR_ID, dispatch, grid1d } from '../common.ts';
import type { Affine, GroupLayout, StatsMode } from './norm.cpu.ts';

const WG = 64;

interface Binding { name: string; type: string; rw: boolean }

function declare(bs: Binding[]): string {
  return bs.map((b, k) => `@group(0) @binding(${k + 1}) var<storage, ${b.rw ? 'read_write' : 'read'}> ${b.name}: array<${b.type}>;`).join('\n');
}

const HEAD = `
struct U {
  groups: u32, g0Count: u32, s0: u32, s1: u32,
  nO: u32, sO: u32, nI: u32, sI: u32,
  eps: f32, momentum: f32, count: f32, unbias: f32,
};
@group(0) @binding(0) var<uniform> u: U;`;

function prelude(V: number): string {
  return V === 4
    ? 'alias VT = vec4<f32>;\nfn hsum(v: VT) -> f32 { return v.x + v.y + v.z + v.w; }'
    : 'alias VT = f32;\nfn hsum(v: VT) -> f32 { return v; }';
}

/** The group walk: `body` sees `a` (element address, in units of VT) and `i` (inner index, in units of VT). */
function walk(body: string): string {
  return `for (var o = 0u; o < u.nO; o++) {
    let ob = base + o * u.sO;
    for (var i = 0u; i < u.nI; i++) {
      let a = ob + i * u.sI;
      ${body}
    }
  }`;
}

function forwardSource(affine: Affine, mode: StatsMode, V: number): string {
  const bs: Binding[] = [{ name: 'X', type: 'VT', rw: false }];
  if (affine !== 'none') bs.push({ name: 'W', type: affine === 'inner' ? 'VT' : 'f32', rw: false }, { name: 'B', type: affine === 'inner' ? 'VT' : 'f32', rw: false });
  if (mode !== 'batch') bs.push({ name: 'RM', type: 'f32', rw: mode === 'update' }, { name: 'RV', type: 'f32', rw: mode === 'update' });
  if (mode === 'update') bs.push({ name: 'NBT', type: 'i32', rw: true });
  bs.push({ name: 'Y', type: 'VT', rw: true }, { name: 'S', type: 'f32', rw: true });
  const stats = mode === 'running'
    ? 'let mean = RM[g];\n  let rstd = inverseSqrt(RV[g] + u.eps);'
    : `// Shifted sums (shift = the group's first element) keep the one-pass variance accurate when |mean| >> std.
  let k = VT(X[base]${V === 4 ? '.x' : ''});
  var s1 = 0.0;
  var s2 = 0.0;
  ${walk('let d = X[a] - k;\n      s1 += hsum(d);\n      s2 += hsum(d * d);')}
  let m1 = s1 / u.count;
  let v = max(s2 / u.count - m1 * m1, 0.0);
  let mean = k${V === 4 ? '.x' : ''} + m1;
  let rstd = inverseSqrt(v + u.eps);
  ${mode === 'update' ? `RM[g] = (1.0 - u.momentum) * RM[g] + u.momentum * mean;
  RV[g] = (1.0 - u.momentum) * RV[g] + u.momentum * v * u.unbias;
  if (g == 0u) { NBT[0] = NBT[0] + 1; }` : ''}`;
  const write = affine === 'none' ? 'Y[a] = (X[a] - mean) * rstd;'
    : affine === 'inner' ? 'Y[a] = (X[a] - mean) * rstd * W[i] + B[i];'
    : 'Y[a] = X[a] * wg + bg;';
  return `${prelude(V)}${HEAD}
${declare(bs)}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let g = ${WGSL_LINEAR_ID(WG)};
  if (g >= u.groups) { return; }
  let base = (g / u.g0Count) * u.s1 + (g % u.g0Count) * u.s0;
  ${stats}
  S[2u * g] = mean;
  S[2u * g + 1u] = rstd;
  ${affine === 'group' ? 'let wg = W[g] * rstd;\n  let bg = B[g] - mean * wg;' : ''}
  ${walk(write)}
}`;
}

function backwardSource(affine: Affine, mode: StatsMode, V: number): string {
  const bs: Binding[] = [{ name: 'G', type: 'VT', rw: false }, { name: 'X', type: 'VT', rw: false }, { name: 'S', type: 'f32', rw: false }];
  if (affine !== 'none') bs.push({ name: 'W', type: affine === 'inner' ? 'VT' : 'f32', rw: false });
  bs.push({ name: 'DX', type: 'VT', rw: true });
  if (affine === 'group') bs.push({ name: 'DW', type: 'f32', rw: true }, { name: 'DB', type: 'f32', rw: true });
  const gw = affine === 'inner' ? 'G[a] * W[i]' : 'G[a]';
  // 'group' affine: the sums are of the unweighted g (they are dw and db); the weight scales them afterwards.
  const needSums = mode !== 'running' || affine === 'group';
  return `${prelude(V)}${HEAD}
${declare(bs)}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let g = ${WGSL_LINEAR_ID(WG)};
  if (g >= u.groups) { return; }
  let base = (g / u.g0Count) * u.s1 + (g % u.g0Count) * u.s0;
  let mean = S[2u * g];
  let rstd = S[2u * g + 1u];
  let wg = ${affine === 'group' ? 'W[g]' : '1.0'};
  ${needSums ? `var sg = 0.0;
  var sgx = 0.0;
  ${walk(`let gg = ${gw};\n      sg += hsum(gg);\n      sgx += hsum(gg * (X[a] - mean) * rstd);`)}
  ${affine === 'group' ? 'DW[g] = sgx;\n  DB[g] = sg;' : ''}` : ''}
  ${mode === 'running'
    ? walk(`DX[a] = ${gw} * (rstd * wg);`)
    : `let ca = sg * wg / u.count;
  let cb = sgx * wg / u.count;
  ${walk(`DX[a] = rstd * (${gw} * wg - ca - (X[a] - mean) * rstd * cb);`)}`}
}`;
}

export interface NormOperands {
  w: Tensor | null;
  b: Tensor | null;
  runMean: Tensor | null;
  runVar: Tensor | null;
  nbt: Tensor | null;
}

/** Divides the layout by the load width: addresses in the kernel count VT elements. */
function uniforms(L: GroupLayout, V: number, eps: number, momentum: number): Uniforms {
  const count = L.nO * L.nI;
  return new Uniforms()
    .u32(L.groups).u32(L.g0Count).u32(L.s0 / V).u32(L.s1 / V)
    .u32(L.nO).u32(L.sO / V).u32(L.nI / V).u32(L.sI)
    .f32(eps).f32(momentum).f32(count).f32(count > 1 ? count / (count - 1) : 0);
}

export function normForwardWgsl(x: Tensor, y: Tensor, stats: Tensor, L: GroupLayout, affine: Affine, ops: NormOperands,
  eps: number, mode: StatsMode, momentum: number, V: number): void {
  const ts: [Tensor, 'read' | 'rw'][] = [[x, 'read']];
  if (affine !== 'none') ts.push([ops.w!, 'read'], [ops.b!, 'read']);
  const runAccess = mode === 'update' ? 'rw' : 'read';
  if (mode !== 'batch') ts.push([ops.runMean!, runAccess], [ops.runVar!, runAccess]);
  if (mode === 'update') ts.push([ops.nbt!, 'rw']);
  ts.push([y, 'rw'], [stats, 'rw']);
  const key = `norm_fwd:${affine}:${mode}:v${V}`;
  dispatch(key, ts.map((t) => t[1]), () => forwardSource(affine, mode, V), ts.map((t) => t[0]), uniforms(L, V, eps, momentum), grid1d(L.groups, WG), key);
}

export function normBackwardWgsl(g: Tensor, x: Tensor, stats: Tensor, L: GroupLayout, affine: Affine, w: Tensor | null,
  mode: StatsMode, dx: Tensor, dw: Tensor | null, db: Tensor | null, V: number): void {
  const ts = [g, x, stats];
  if (affine !== 'none') ts.push(w!);
  ts.push(dx);
  if (affine === 'group') ts.push(dw!, db!);
  const nOut = affine === 'group' ? 3 : 1;
  const key = `norm_bwd:${affine}:${mode === 'running' ? 'running' : 'batch'}:v${V}`;
  const access = ts.map((_, k) => (k >= ts.length - nOut ? 'rw' : 'read') as 'rw' | 'read');
  dispatch(key, access, () => backwardSource(affine, mode === 'running' ? 'running' : 'batch', V), ts, uniforms(L, V, 0, 0), grid1d(L.groups, WG), key);
}

/**
 * LayerNorm parameter gradients as deterministic partial column sums: invocation (chunk, i) sums rows
 * [chunk * chunkRows, ...) of g * xhat and g into DW[chunk, i], DB[chunk, i]; the op sums the chunks with `sum`.
 * Lanes own consecutive columns, so a workgroup reads a row segment. x, g (rows, C); stats (rows, 2).
 */
function paramGradSource(): string {
  return `
struct U { rows: u32, C: u32, chunkRows: u32, total: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> S: array<f32>;
@group(0) @binding(4) var<storage, read_write> DW: array<f32>;
@group(0) @binding(5) var<storage, read_write> DB: array<f32>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let t = ${WGSL_LINEAR_ID(WG)};
  if (t >= u.total) { return; }
  let i = t % u.C;
  let chunk = t / u.C;
  let r0 = chunk * u.chunkRows;
  let r1 = min(r0 + u.chunkRows, u.rows);
  var sw = 0.0;
  var sb = 0.0;
  for (var r = r0; r < r1; r++) {
    let a = r * u.C + i;
    sw += G[a] * (X[a] - S[2u * r]) * S[2u * r + 1u];
    sb += G[a];
  }
  DW[t] = sw;
  DB[t] = sb;
}`;
}

export function layerNormParamGradWgsl(g: Tensor, x: Tensor, stats: Tensor, rows: number, C: number, chunkRows: number, dwPart: Tensor, dbPart: Tensor): void {
  const total = dwPart.size;
  const u = new Uniforms().u32(rows).u32(C).u32(chunkRows).u32(total);
  dispatch('layernorm_param_grad', ['read', 'read', 'read', 'rw', 'rw'], paramGradSource, [g, x, stats, dwPart, dbPart], u, grid1d(total, WG), 'layerNorm');
}
