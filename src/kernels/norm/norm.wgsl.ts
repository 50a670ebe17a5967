// WGSL kernels of the normalization family, generated from one template over the group layout of norm.cpu.ts.
// lavapipe runs a workgroup as SIMD over lanes and barriers are coroutine switches (PERF-NOTES.md), so every
// kernel gives one invocation a whole group (a LayerNorm row, a BatchNorm channel, an InstanceNorm (b, c)
// column) and walks it sequentially: no barriers, no atomics, results independent of scheduling.
// On llvmpipe every per-lane load is a scalar gather, so 16-byte loads are what make a streaming op fast. The
// variant `vec` picks how an invocation loads vec4s (VT = the loaded type, ST = the per-group statistic type):
//   'none'   VT = ST = f32.
//   'inner'  VT = vec4, ST = f32: four consecutive elements of one group (LayerNorm rows with C % 4 == 0,
//            BatchNorm planes with H*W % 4 == 0); sums reduce the four lanes.
//   'groups' VT = ST = vec4: one invocation runs four adjacent groups whose elements are adjacent in memory
//            (InstanceNorm channels with C % 4 == 0); statistics are vec4, one component per group.
// Other variants baked into the text (and the pipeline key): affine kind and statistics mode.
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, WGSL_LINEAR_ID, dispatch, grid1d } from '../common.ts';
import type { Affine, GroupLayout, StatsMode } from './norm.cpu.ts';

const WG = 64;

export type VecMode = 'none' | 'inner' | 'groups';

interface Binding { name: string; type: string; rw: boolean }

function declare(bs: Binding[]): string {
  return bs.map((b, k) => `@group(0) @binding(${k + 1}) var<storage, ${b.rw ? 'read_write' : 'read'}> ${b.name}: array<${b.type}>;`).join('\n');
}

// groups: in units of ST (groups / 4 for 'groups'); stats S are laid out (2, groups): means, then rstds.
const HEAD = `
struct U {
  groups: u32, g0Count: u32, s0: u32, s1: u32,
  nO: u32, sO: u32, nI: u32, sI: u32,
  eps: f32, momentum: f32, count: f32, unbias: f32,
};
@group(1) @binding(0) var<uniform> u: U;`;

function prelude(vec: VecMode): string {
  switch (vec) {
    case 'none': return 'alias VT = f32;\nalias ST = f32;\nfn hsum(v: VT) -> ST { return v; }\nfn first(v: VT) -> ST { return v; }';
    case 'inner': return 'alias VT = vec4<f32>;\nalias ST = f32;\nfn hsum(v: VT) -> ST { return v.x + v.y + v.z + v.w; }\nfn first(v: VT) -> ST { return v.x; }';
    case 'groups': return 'alias VT = vec4<f32>;\nalias ST = vec4<f32>;\nfn hsum(v: VT) -> ST { return v; }\nfn first(v: VT) -> ST { return v; }';
  }
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

const MAIN_HEAD = `@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let g = ${WGSL_LINEAR_ID(WG)};
  if (g >= u.groups) { return; }
  let base = (g / u.g0Count) * u.s1 + (g % u.g0Count) * u.s0;`;

/** The affine operand types: per inner element (VT) or per group (ST). */
const affineType = (affine: Affine) => (affine === 'inner' ? 'VT' : 'ST');

function forwardSource(affine: Affine, mode: StatsMode, vec: VecMode): string {
  const bs: Binding[] = [{ name: 'X', type: 'VT', rw: false }];
  if (affine !== 'none') bs.push({ name: 'W', type: affineType(affine), rw: false }, { name: 'B', type: affineType(affine), rw: false });
  if (mode !== 'batch') bs.push({ name: 'RM', type: 'ST', rw: mode === 'update' }, { name: 'RV', type: 'ST', rw: mode === 'update' });
  if (mode === 'update') bs.push({ name: 'NBT', type: 'i32', rw: true });
  bs.push({ name: 'Y', type: 'VT', rw: true }, { name: 'S', type: 'ST', rw: true });
  const stats = mode === 'running'
    ? 'let mean = RM[g];\n  let rstd = inverseSqrt(RV[g] + u.eps);'
    : `// Shifted sums (shift = the group's first element) keep the one-pass variance accurate when |mean| >> std.
  let k = first(X[base]);
  var s1 = ST(0.0);
  var s2 = ST(0.0);
  ${walk('let d = X[a] - k;\n      s1 += hsum(d);\n      s2 += hsum(d * d);')}
  let m1 = s1 / u.count;
  let v = max(s2 / u.count - m1 * m1, ST(0.0));
  let mean = k + m1;
  let rstd = inverseSqrt(v + u.eps);
  ${mode === 'update' ? `RM[g] = (1.0 - u.momentum) * RM[g] + u.momentum * mean;
  RV[g] = (1.0 - u.momentum) * RV[g] + u.momentum * v * u.unbias;
  if (g == 0u) { NBT[0] = NBT[0] + 1; }` : ''}`;
  const write = affine === 'none' ? 'Y[a] = (X[a] - mean) * rstd;'
    : affine === 'inner' ? 'Y[a] = (X[a] - mean) * rstd * W[i] + B[i];'
    : 'Y[a] = X[a] * wg + bg;';
  return `${prelude(vec)}${HEAD}
${declare(bs)}
${MAIN_HEAD}
  ${stats}
  S[g] = mean;
  S[u.groups + g] = rstd;
  ${affine === 'group' ? 'let wg = W[g] * rstd;\n  let bg = B[g] - mean * wg;' : ''}
  ${walk(write)}
}`;
}

function backwardSource(affine: Affine, mode: StatsMode, vec: VecMode): string {
  const bs: Binding[] = [{ name: 'G', type: 'VT', rw: false }, { name: 'X', type: 'VT', rw: false }, { name: 'S', type: 'ST', rw: false }];
  if (affine !== 'none') bs.push({ name: 'W', type: affineType(affine), rw: false });
  bs.push({ name: 'DX', type: 'VT', rw: true });
  if (affine === 'group') bs.push({ name: 'DW', type: 'ST', rw: true }, { name: 'DB', type: 'ST', rw: true });
  const gw = affine === 'inner' ? 'G[a] * W[i]' : 'G[a]';
  // 'group' affine: the sums are of the unweighted g (they are dw and db); the weight scales them afterwards.
  const needSums = mode !== 'running' || affine === 'group';
  return `${prelude(vec)}${HEAD}
${declare(bs)}
${MAIN_HEAD}
  let mean = S[g];
  let rstd = S[u.groups + g];
  let wg = ${affine === 'group' ? 'W[g]' : 'ST(1.0)'};
  ${needSums ? `var sg = ST(0.0);
  var sgx = ST(0.0);
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

/** The vec4 variant a layout allows (see the header), 'none' otherwise. */
export function vecMode(L: GroupLayout, affine: Affine): VecMode {
  if (L.sI === 1 && L.nI % 4 === 0 && L.s0 % 4 === 0 && L.s1 % 4 === 0 && L.sO % 4 === 0) return 'inner';
  if (affine !== 'inner' && L.s0 === 1 && L.g0Count % 4 === 0 && L.s1 % 4 === 0 && (L.sI % 4 === 0 || L.nI === 1) && L.sO % 4 === 0) return 'groups';
  return 'none';
}

/** The layout in the kernel's units: addresses count VT elements, groups count ST elements. */
function uniforms(L: GroupLayout, vec: VecMode, eps: number, momentum: number): Uniforms {
  const count = L.nO * L.nI;
  const v = vec === 'none' ? 1 : 4;
  const gv = vec === 'groups' ? 4 : 1;
  return new Uniforms()
    .u32(L.groups / gv).u32(L.g0Count / gv).u32(vec === 'inner' ? L.s0 / 4 : L.s0).u32(L.s1 / v)
    .u32(L.nO).u32(L.sO / v).u32(vec === 'inner' ? L.nI / 4 : L.nI).u32(vec === 'inner' ? 1 : L.sI / v)
    .f32(eps).f32(momentum).f32(count).f32(count > 1 ? count / (count - 1) : 0);
}

function launch(L: GroupLayout, vec: VecMode): [number, number, number] {
  return grid1d(vec === 'groups' ? L.groups / 4 : L.groups, WG);
}

export function normForwardWgsl(x: Tensor, y: Tensor, stats: Tensor, L: GroupLayout, affine: Affine, ops: NormOperands,
  eps: number, mode: StatsMode, momentum: number): void {
  const vec = vecMode(L, affine);
  const ts: [Tensor, 'read' | 'rw'][] = [[x, 'read']];
  if (affine !== 'none') ts.push([ops.w!, 'read'], [ops.b!, 'read']);
  const runAccess = mode === 'update' ? 'rw' : 'read';
  if (mode !== 'batch') ts.push([ops.runMean!, runAccess], [ops.runVar!, runAccess]);
  if (mode === 'update') ts.push([ops.nbt!, 'rw']);
  ts.push([y, 'rw'], [stats, 'rw']);
  const key = `norm_fwd:${affine}:${mode}:${vec}`;
  dispatch(key, ts.map((t) => t[1]), () => forwardSource(affine, mode, vec), ts.map((t) => t[0]), uniforms(L, vec, eps, momentum), launch(L, vec), key);
}

export function normBackwardWgsl(g: Tensor, x: Tensor, stats: Tensor, L: GroupLayout, affine: Affine, w: Tensor | null,
  mode: StatsMode, dx: Tensor, dw: Tensor | null, db: Tensor | null): void {
  const vec = vecMode(L, affine);
  const ts = [g, x, stats];
  if (affine !== 'none') ts.push(w!);
  ts.push(dx);
  if (affine === 'group') ts.push(dw!, db!);
  const nOut = affine === 'group' ? 3 : 1;
  const m = mode === 'running' ? 'running' : 'batch';
  const key = `norm_bwd:${affine}:${m}:${vec}`;
  const access = ts.map((_, k) => (k >= ts.length - nOut ? 'rw' : 'read') as 'rw' | 'read');
  dispatch(key, access, () => backwardSource(affine, m, vec), ts, uniforms(L, vec, 0, 0), launch(L, vec), key);
}

/**
 * LayerNorm parameter gradients as deterministic partial column sums: invocation (chunk, i) sums rows
 * [chunk * chunkRows, ...) of g * xhat and g into DW[chunk, i], DB[chunk, i]; the op sums the chunks with `sum`.
 * Lanes own consecutive columns, so a workgroup reads a row segment. x, g (rows, C); stats (2, rows).
 */
function paramGradSource(V: number): string {
  const VT = V === 4 ? 'vec4<f32>' : 'f32';
  return `
alias VT = ${VT};
// C and total count VT elements (columns / V).
struct U { rows: u32, C: u32, chunkRows: u32, total: u32 };
@group(1) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> G: array<VT>;
@group(0) @binding(2) var<storage, read> X: array<VT>;
@group(0) @binding(3) var<storage, read> S: array<f32>;
@group(0) @binding(4) var<storage, read_write> DW: array<VT>;
@group(0) @binding(5) var<storage, read_write> DB: array<VT>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let t = ${WGSL_LINEAR_ID(WG)};
  if (t >= u.total) { return; }
  let i = t % u.C;
  let chunk = t / u.C;
  let r0 = chunk * u.chunkRows;
  let r1 = min(r0 + u.chunkRows, u.rows);
  var sw = VT(0.0);
  var sb = VT(0.0);
  for (var r = r0; r < r1; r++) {
    let a = r * u.C + i;
    sw += G[a] * (X[a] - S[r]) * S[u.rows + r];
    sb += G[a];
  }
  DW[t] = sw;
  DB[t] = sb;
}`;
}

/** Four columns per invocation (vec4 loads) when C % 4 == 0. */
export function layerNormParamGradWgsl(g: Tensor, x: Tensor, stats: Tensor, rows: number, C: number, chunkRows: number, dwPart: Tensor, dbPart: Tensor): void {
  const V = C % 4 === 0 ? 4 : 1;
  const total = dwPart.size / V;
  const u = new Uniforms().u32(rows).u32(C / V).u32(chunkRows).u32(total);
  const key = `layernorm_param_grad:v${V}`;
  dispatch(key, ['read', 'read', 'read', 'rw', 'rw'], () => paramGradSource(V), [g, x, stats, dwPart, dbPart], u, grid1d(total, WG), 'layerNorm');
}
