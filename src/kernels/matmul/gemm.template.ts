// The one GEMM template: C[b, m, n] = sum_k A(b, m, k) * B(b, k, n). Operand layouts are hooks (WGSL functions
// supplied by the caller), so the same loop structure serves strided matmul, linear layers and implicit-GEMM
// convolution (forward, data-grad, weight-grad) without copy-pasted kernels.
//
// Hooks a layout provides (WGSL, along with its uniform struct `u` holding at least M, N, K, and its bindings):
//   fn rowA(b: u32, m: u32) -> RowA          per-lane row state, computed once
//   fn loadA(r: RowA, k: u32) -> f32
//   fn colB(b: u32, n: u32) -> ColB          per-lane column state, computed once
//   fn loadB(c: ColB, k: u32) -> f32
//   fn storeC(b: u32, m: u32, n: u32, v: f32)
// Optional vector forms, used when `vec` flags are set (the caller guarantees alignment):
//   fn loadA4(r: RowA, k: u32) -> vec4<f32>      A(m, k..k+3)
//   fn loadB4(c: ColB, k: u32) -> vec4<f32>      B(k..k+3, n)
//   fn loadBn4(c: ColB, k: u32) -> vec4<f32>     B(k, n..n+3) for the lane's first column
// Optional two-level reduction (`taps`): the reduction runs over (t, k) for t < u.T and k < u.K, and the layout
// moves its row and column state to tap t once, so the inner loop over k is a plain strided walk:
//   fn tapA(r: RowA, t: u32) -> RowA,  fn tapB(c: ColB, t: u32) -> ColB
// This is what makes the convolutions fast: t is the kernel tap (kh, kw) and k the channel, so the im2col decode
// and its bounds check happen once per tap instead of once per multiply.
//
// Variants:
//   subgroup  lavapipe: a workgroup is one subgroup of S lanes computing TM rows x 4S columns. Lane l loads A for
//             rows l, l+S, ... and subgroupBroadcast hands each value to every lane (a register shuffle) while each
//             lane owns 4 columns: llvmpipe is load-bound, and this needs no barrier (PERF-NOTES.md).
//   tiled     real GPUs: shared-memory tiles, 64x64 outputs per 256 threads, 4x4 per thread.
//   naive     one invocation per output: the fallback and a second oracle.

export interface GemmLayout {
  /** Pipeline-key fragment naming the layout and its vector flags. */
  key: string;
  /** Bindings, uniform struct, alias RowA/ColB, hook functions. */
  wgsl: string;
  /** A(m, k..k+3) available as loadA4. */
  vecA?: boolean;
  /** B(k..k+3, n) available as loadB4. */
  vecBk?: boolean;
  /** B(k, n..n+3) available as loadBn4 (columns of a lane are contiguous; N % 4 == 0). */
  vecBn?: boolean;
  /** Reduction over u.T taps of u.K each, through tapA/tapB. */
  taps?: boolean;
  /**
   * Split reduction over taps: workgroup z runs chunk z / u.Z of u.TC taps, t in
   * [chunk·TC, min(T, (chunk+1)·TC)); the hooks get b = z % u.Z and storeC the full z, so the layout writes
   * one partial result per chunk (summed afterwards). A small output over a long reduction (a convolution's
   * weight gradient) otherwise leaves most of the machine idle. The subgroup variant loops over the chunk's taps,
   * the tiled one over its span of the flattened reduction; the naive one needs TC = T (one chunk).
   */
  splitT?: boolean;
  /** C(m, n..n+3) storable at once as storeC4 (the caller guarantees N % 4 == 0 and 16-byte alignment). */
  vecC?: boolean;
}

export const SG_TM = 16;
/** Subgroups per workgroup in the subgroup variant (FIANET_SG_PER_WG overrides, for tuning). */
const SG_PER_WG = Number(process.env.FIANET_SG_PER_WG ?? 1);

function subgroupSource(L: GemmLayout, S: number, loop: boolean): string {
  const regs = Math.max(1, SG_TM / S);
  const R = [...Array(regs).keys()];
  // With taps the per-lane states are made once (suffix o) and moved to each tap inside the outer loop.
  const o = L.taps ? 'o' : '';
  const rows = R.map((j) => `let ra${j}${o} = rowA(b, min(row0 + lane + ${j * S}u, u.M - 1u));`).join('\n  ');
  const acc = [...Array(SG_TM).keys()].map((r) => `var acc${r} = vec4<f32>(0.0);`).join(' ');
  const fma = (aName: (j: number) => string, bv: string) =>
    [...Array(SG_TM).keys()].map((r) => `acc${r} += subgroupBroadcast(${aName(Math.floor(r / S))}, ${r % S}u) * ${bv};`).join('\n      ');
  // Columns past N are clamped: computed on duplicates, never stored. With vecBn the lane's 4 columns move together.
  const colNames = L.vecBn ? ['cb'] : ['cb0', 'cb1', 'cb2', 'cb3'];
  const cols = L.vecBn
    ? `let cb${o} = colB(b, min(c0, u.N - 4u));`
    : [0, 1, 2, 3].map((c) => `let cb${c}${o} = colB(b, min(c0 + ${c}u, u.N - 1u));`).join('\n  ');
  const scalarB = L.vecBn ? 'loadBn4(cb, k)' : 'vec4<f32>(loadB(cb0, k), loadB(cb1, k), loadB(cb2, k), loadB(cb3, k))';
  const scalarStep = `{
      ${R.map((j) => `let a${j} = loadA(ra${j}, k);`).join(' ')}
      let bv = ${scalarB};
      ${fma((j) => `a${j}`, 'bv')}
    }`;
  let body: string;
  if (L.vecA || L.vecBk) {
    // Unrolled by 4 along k: A as vec4 per row register, B as vec4 along k per column (transposed in registers).
    const aLoads = R.map((j) => (L.vecA ? `let a${j} = loadA4(ra${j}, k);` : `let a${j} = vec4<f32>(loadA(ra${j}, k), loadA(ra${j}, k + 1u), loadA(ra${j}, k + 2u), loadA(ra${j}, k + 3u));`)).join(' ');
    const bLoads = L.vecBk
      ? [0, 1, 2, 3].map((c) => `let b${c} = loadB4(cb${c}, k);`).join(' ')
      : '';
    const comps = ['x', 'y', 'z', 'w'];
    const steps = comps.map((q, kk) => {
      const bv = L.vecBk ? `vec4<f32>(b0.${q}, b1.${q}, b2.${q}, b3.${q})` : L.vecBn ? `loadBn4(cb, k + ${kk}u)` : `vec4<f32>(loadB(cb0, k + ${kk}u), loadB(cb1, k + ${kk}u), loadB(cb2, k + ${kk}u), loadB(cb3, k + ${kk}u))`;
      return `{
      let bv = ${bv};
      ${fma((j) => `a${j}.${q}`, 'bv')}
    }`;
    }).join('\n    ');
    body = `var k = 0u;
  for (; k + 4u <= u.K; k += 4u) {
    ${aLoads}
    ${bLoads}
    ${steps}
  }
  for (; k < u.K; k++) ${scalarStep}`;
  } else {
    body = `for (var k = 0u; k < u.K; k++) ${scalarStep}`;
  }
  if (L.taps) {
    const moves = [...R.map((j) => `let ra${j} = tapA(ra${j}o, t);`), ...colNames.map((c) => `let ${c} = tapB(${c}o, t);`)];
    const range = L.splitT ? 'var t = chunk * u.TC; t < min(u.T, chunk * u.TC + u.TC); t++' : 'var t = 0u; t < u.T; t++';
    body = `for (${range}) {
  ${moves.join(' ')}
  ${body}
  }`;
  }
  const stores = [...Array(SG_TM).keys()].map((r) => `storeRow(${L.splitT ? 'wid.z' : 'b'}, row0 + ${r}u, c0, acc${r});`).join('\n  ');
  // One row tile: its per-lane row states, accumulators, reduction and stores.
  const tile = `${rows}\n  ${acc}\n  ${body}\n  ${stores}`;
  return `enable subgroups;
${L.wgsl}
fn storeRow(b: u32, m: u32, c0: u32, v: vec4<f32>) {
  if (m >= u.M) { return; }
  ${L.vecC ? 'if (c0 < u.N) { storeC4(b, m, c0, v); }' : `if (c0 < u.N) { storeC(b, m, c0, v.x); }
  if (c0 + 1u < u.N) { storeC(b, m, c0 + 1u, v.y); }
  if (c0 + 2u < u.N) { storeC(b, m, c0 + 2u, v.z); }
  if (c0 + 3u < u.N) { storeC(b, m, c0 + 3u, v.w); }`}
}
@compute @workgroup_size(${S * SG_PER_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) lane: u32) {
  ${L.splitT ? 'let chunk = wid.z / u.Z;\n  let b = wid.z % u.Z;' : 'let b = wid.z;'}
  // Several subgroups per workgroup, each on its own column tile: lavapipe pays a fixed cost per workgroup.
  let c0 = ((wid.x * ${SG_PER_WG}u + li / ${S}u) * ${S}u + lane) * 4u;
  ${cols}
  ${loop ? `// Row tiles wid.y * rpw + rt (rowTilesPerGroup), rpw from the launch grid.
  let rpw = ((u.M + ${SG_TM - 1}u) / ${SG_TM}u + nwg.y - 1u) / nwg.y;
  for (var rt = 0u; rt < rpw; rt++) {
  let row0 = (wid.y * rpw + rt) * ${SG_TM}u;
  if (row0 >= u.M) { break; }
  ${tile}
  }` : `let row0 = wid.y * ${SG_TM}u;
  ${tile}`}
}`;
}

export const TILE = 64;
const TK = 16;

/** A(b, m, gk) and B(b, gk, n) over the flattened reduction index, for the variant that tiles it. */
function flatLoads(L: GemmLayout): string {
  return L.taps
    ? `fn ktot() -> u32 { return u.T * u.K; }
fn loadAF(b: u32, m: u32, gk: u32) -> f32 { return loadA(tapA(rowA(b, m), gk / u.K), gk % u.K); }
fn loadBF(b: u32, gk: u32, n: u32) -> f32 { return loadB(tapB(colB(b, n), gk / u.K), gk % u.K); }`
    : `fn ktot() -> u32 { return u.K; }
fn loadAF(b: u32, m: u32, gk: u32) -> f32 { return loadA(rowA(b, m), gk); }
fn loadBF(b: u32, gk: u32, n: u32) -> f32 { return loadB(colB(b, n), gk); }`;
}

function tiledSource(L: GemmLayout): string {
  return `${L.wgsl}
${flatLoads(L)}
var<workgroup> As: array<array<f32, ${TILE}>, ${TK}>;
var<workgroup> Bs: array<array<f32, ${TILE}>, ${TK}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${L.splitT ? 'let chunk = wid.z / u.Z;\n  let b = wid.z % u.Z;' : 'let b = wid.z;'}
  let row0 = wid.y * ${TILE}u;
  let col0 = wid.x * ${TILE}u;
  let t = lid.y * 16u + lid.x;
  var acc: array<array<f32, 4>, 4>;
  for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] = 0.0; } }
  // The flattened reduction [kLo, KT): whole, or the chunk's taps times K (splitT).
  ${L.splitT ? 'let kLo = chunk * u.TC * u.K;\n  let KT = min(u.T, chunk * u.TC + u.TC) * u.K;' : 'let kLo = 0u;\n  let KT = ktot();'}
  for (var k0 = kLo; k0 < KT; k0 += ${TK}u) {
    // 256 threads stage a 64x16 tile of A and a 16x64 tile of B, 4 elements each.
    for (var e = 0u; e < 4u; e++) {
      let idx = t + e * 256u;
      let am = idx / ${TK}u;
      let ak = idx % ${TK}u;
      let gm = row0 + am;
      let gk = k0 + ak;
      As[ak][am] = select(0.0, loadAF(b, min(gm, u.M - 1u), min(gk, KT - 1u)), gm < u.M && gk < KT);
      let bk = idx / ${TILE}u;
      let bn = idx % ${TILE}u;
      let gk2 = k0 + bk;
      let gn = col0 + bn;
      Bs[bk][bn] = select(0.0, loadBF(b, min(gk2, KT - 1u), min(gn, u.N - 1u)), gk2 < KT && gn < u.N);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { av[i] = As[kk][lid.y * 4u + i]; bv[i] = Bs[kk][lid.x * 4u + i]; }
      for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] += av[i] * bv[j]; } }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = row0 + lid.y * 4u + i;
    if (m >= u.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let n = col0 + lid.x * 4u + j;
      if (n < u.N) { storeC(${L.splitT ? 'wid.z' : 'b'}, m, n, acc[i][j]); }
    }
  }
}`;
}

function naiveSource(L: GemmLayout): string {
  const loop = 'for (var k = 0u; k < u.K; k++) { acc += loadA(ra, k) * loadB(cb, k); }';
  return `${L.wgsl}
@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let m = gid.y;
  let b = gid.z;
  if (m >= u.M || n >= u.N) { return; }
  var acc = 0.0;
  ${L.taps
    ? `let ra0 = rowA(b, m);
  let cb0 = colB(b, n);
  for (var t = 0u; t < u.T; t++) {
    let ra = tapA(ra0, t);
    let cb = tapB(cb0, t);
    ${loop}
  }`
    : `let ra = rowA(b, m);
  let cb = colB(b, n);
  ${loop}`}
  storeC(b, m, n, acc);
}`;
}

export type GemmVariant = 'naive' | 'subgroup' | 'tiled';

/** Reductions up to this long loop over several row tiles per workgroup (subgroup variant). */
const SHORT_K = 256;
/** Workgroups a looping launch keeps at least (lavapipe spreads them over its threads). */
const MIN_GROUPS = 128;

/**
 * Row tiles per workgroup in the subgroup variant. lavapipe pays a fixed cost per workgroup, which short
 * reductions do not amortize: bmm_qk (64 x 144x32 @ 32x144) 4.49 -> 3.85 ms looping over its 9 row tiles
 * (interleaved in one process); bmm_pv (K 144) and K-128 products measured the same either way. Long
 * reductions stay at one tile per workgroup (an unrolled 4-tile loop was slower on matmul 1024^3 and conv 3x3).
 */
function rowTilesPerGroup(rowTiles: number, otherGroups: number, kTotal: number): number {
  if (kTotal > SHORT_K) return 1;
  return Math.max(1, Math.min(rowTiles, Math.floor((rowTiles * otherGroups) / MIN_GROUPS)));
}

/** WGSL source and launch grid for one GEMM of M x N per batch, nBatch batches, over a reduction of kTotal. */
export function gemmProgram(L: GemmLayout, variant: GemmVariant, S: number, M: number, N: number, nBatch: number, kTotal: number): {
  key: string; code: () => string; grid: [number, number, number];
} {
  if (variant === 'subgroup') {
    const colTiles = Math.ceil(N / (4 * S * SG_PER_WG));
    const rowTiles = Math.ceil(M / SG_TM);
    const rpw = rowTilesPerGroup(rowTiles, colTiles * nBatch, kTotal);
    const loop = rpw > 1;
    return { key: `gemm:sg${S}:${L.key}${loop ? ':rows' : ''}`, code: () => subgroupSource(L, S, loop), grid: [colTiles, Math.ceil(rowTiles / rpw), nBatch] };
  }
  const plain = { ...L, vecA: false, vecBk: false, vecBn: false };
  if (variant === 'tiled') {
    return { key: `gemm:tiled:${L.key}`, code: () => tiledSource(plain), grid: [Math.ceil(N / TILE), Math.ceil(M / TILE), nBatch] };
  }
  return { key: `gemm:naive:${L.key}`, code: () => naiveSource(plain), grid: [Math.ceil(N / 16), Math.ceil(M / 16), nBatch] };
}
