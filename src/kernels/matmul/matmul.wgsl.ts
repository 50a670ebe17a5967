// Matmul kernels. One uniform layout (batch dims with per-operand strides, M/N/K, row/col strides of each
// operand) serves three variants:
//   naive    one invocation per output; the fallback and a second oracle for the others.
//   subgroup lavapipe: a workgroup is one subgroup of S lanes computing TM rows x 4S columns. Lane l loads
//            A for rows l, l+S, ... once per k and subgroupBroadcast hands each value to every lane (a register
//            shuffle), while each lane owns 4 output columns. llvmpipe is load-bound, and this does ~6 loads
//            per 64 FMAs without a single barrier (PERF-NOTES.md).
//   tiled    real GPUs: classic shared-memory tiles (64x64 outputs per 256 threads, 4x4 per thread).
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, dispatch } from '../common.ts';
import type { MatmulPlan } from './matmul.cpu.ts';

export type MatmulVariant = 'naive' | 'subgroup' | 'tiled';

const UNIFORM = `
struct U {
  M: u32, N: u32, K: u32, batchRank: u32,
  aRow: u32, aCol: u32, bRow: u32, bCol: u32,
  aOff: u32, bOff: u32, nBatch: u32, _p: u32,
  bShape: array<vec4<u32>, 2>, aBS: array<vec4<u32>, 2>, bBS: array<vec4<u32>, 2>,
};
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
// Offsets of batch b in A and B (broadcast batch dims have stride 0).
fn batchOffsets(b: u32) -> vec2<u32> {
  var rem = b;
  var oa = u.aOff;
  var ob = u.bOff;
  for (var d = i32(u.batchRank) - 1; d >= 0; d--) {
    let dd = u32(d);
    let s = u.bShape[dd / 4u][dd % 4u];
    let q = rem % s;
    rem = rem / s;
    oa += q * u.aBS[dd / 4u][dd % 4u];
    ob += q * u.bBS[dd / 4u][dd % 4u];
  }
  return vec2<u32>(oa, ob);
}`;

function naiveSource(): string {
  return `${UNIFORM}
@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let m = gid.y;
  let b = gid.z;
  if (m >= u.M || n >= u.N) { return; }
  let off = batchOffsets(b);
  var acc = 0.0;
  for (var k = 0u; k < u.K; k++) {
    acc += A[off.x + m * u.aRow + k * u.aCol] * B[off.y + k * u.bRow + n * u.bCol];
  }
  O[(b * u.M + m) * u.N + n] = acc;
}`;
}

/** Rows per workgroup tile in the subgroup kernel (FIANET_SG_TM overrides, for tuning). */
const SG_TM = Number(process.env.FIANET_SG_TM ?? 16);

function subgroupSource(S: number): string {
  const regs = Math.max(1, SG_TM / S); // A values each lane holds per k
  // Rows past M are clamped to M-1: computed on duplicates, never stored, so the loop needs no bounds test.
  const rowBase = Array.from({ length: regs }, (_, j) =>
    `let pa${j} = offA + min(row0 + lane + ${j * S}u, u.M - 1u) * u.aRow;`).join('\n  ');
  const loadA = Array.from({ length: regs }, (_, j) => `let a${j} = A[pa${j} + ka];`).join('\n    ');
  const fma: string[] = [];
  for (let r = 0; r < SG_TM; r++) fma.push(`acc${r} += subgroupBroadcast(a${Math.floor(r / S)}, ${r % S}u) * bv;`);
  const writes: string[] = [];
  for (let r = 0; r < SG_TM; r++) writes.push(`store(row0 + ${r}u, c0, acc${r}, ob);`);
  return `enable subgroups;
${UNIFORM}
fn store(m: u32, c0: u32, v: vec4<f32>, ob: u32) {
  if (m >= u.M) { return; }
  let base = ob + m * u.N;
  if (c0 + 3u < u.N) {
    O[base + c0] = v.x; O[base + c0 + 1u] = v.y; O[base + c0 + 2u] = v.z; O[base + c0 + 3u] = v.w;
  } else {
    if (c0 < u.N) { O[base + c0] = v.x; }
    if (c0 + 1u < u.N) { O[base + c0 + 1u] = v.y; }
    if (c0 + 2u < u.N) { O[base + c0 + 2u] = v.z; }
  }
}
@compute @workgroup_size(${S})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let b = wid.z;
  let row0 = wid.y * ${SG_TM}u;
  let c0 = (wid.x * ${S}u + lane) * 4u;
  let off = batchOffsets(b);
  let offA = off.x;
  let ob = b * u.M * u.N;
  ${rowBase}
  ${Array.from({ length: SG_TM }, (_, r) => `var acc${r} = vec4<f32>(0.0);`).join(' ')}
  // Columns past N are clamped likewise.
  let nLast = u.N - 1u;
  let bc0 = off.y + min(c0, nLast) * u.bCol;
  let bc1 = off.y + min(c0 + 1u, nLast) * u.bCol;
  let bc2 = off.y + min(c0 + 2u, nLast) * u.bCol;
  let bc3 = off.y + min(c0 + 3u, nLast) * u.bCol;
  var ka = 0u;
  var kb = 0u;
  for (var k = 0u; k < u.K; k++) {
    ${loadA}
    let bv = vec4<f32>(B[bc0 + kb], B[bc1 + kb], B[bc2 + kb], B[bc3 + kb]);
    ${fma.join('\n    ')}
    ka += u.aCol;
    kb += u.bRow;
  }
  ${writes.join('\n  ')}
}`;
}

const TILE = 64;
const TK = 16;

function tiledSource(): string {
  return `${UNIFORM}
var<workgroup> As: array<array<f32, ${TILE}>, ${TK}>;
var<workgroup> Bs: array<array<f32, ${TILE}>, ${TK}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wid.z;
  let off = batchOffsets(b);
  let row0 = wid.y * ${TILE}u;
  let col0 = wid.x * ${TILE}u;
  let t = lid.y * 16u + lid.x;
  var acc: array<array<f32, 4>, 4>;
  for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] = 0.0; } }
  for (var k0 = 0u; k0 < u.K; k0 += ${TK}u) {
    // 256 threads load a 64x16 tile of A and a 16x64 tile of B, 4 elements each.
    for (var e = 0u; e < 4u; e++) {
      let idx = t + e * 256u;
      let am = idx / ${TK}u;
      let ak = idx % ${TK}u;
      let gm = row0 + am;
      let gk = k0 + ak;
      As[ak][am] = select(0.0, A[off.x + min(gm, u.M - 1u) * u.aRow + min(gk, u.K - 1u) * u.aCol], gm < u.M && gk < u.K);
      let bk = idx / ${TILE}u;
      let bn = idx % ${TILE}u;
      let gk2 = k0 + bk;
      let gn = col0 + bn;
      Bs[bk][bn] = select(0.0, B[off.y + min(gk2, u.K - 1u) * u.bRow + min(gn, u.N - 1u) * u.bCol], gk2 < u.K && gn < u.N);
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
      if (n < u.N) { O[(b * u.M + m) * u.N + n] = acc[i][j]; }
    }
  }
}`;
}

export function matmulWgsl(a: Tensor, b: Tensor, out: Tensor, p: MatmulPlan, variant: MatmulVariant, subgroupSize: number): void {
  const nBatch = p.batchShape.reduce((x, y) => x * y, 1);
  const u = new Uniforms()
    .u32(p.M).u32(p.N).u32(p.K).u32(p.batchShape.length)
    .u32(p.aRow).u32(p.aCol).u32(p.bRow).u32(p.bCol)
    .u32(p.aOffset).u32(p.bOffset).u32(nBatch).u32(0)
    .arr8(p.batchShape, 1).arr8(p.aBatchStrides).arr8(p.bBatchStrides);
  const bind: ('read' | 'rw')[] = ['read', 'read', 'rw'];
  if (variant === 'subgroup') {
    const S = subgroupSize;
    const grid: [number, number, number] = [Math.ceil(p.N / (4 * S)), Math.ceil(p.M / SG_TM), nBatch];
    dispatch(`matmul:subgroup:${S}`, bind, () => subgroupSource(S), [a, b, out], u, grid, 'matmul');
  } else if (variant === 'tiled') {
    dispatch('matmul:tiled', bind, tiledSource, [a, b, out], u, [Math.ceil(p.N / TILE), Math.ceil(p.M / TILE), nBatch], 'matmul');
  } else {
    dispatch('matmul:naive', bind, naiveSource, [a, b, out], u, [Math.ceil(p.N / 16), Math.ceil(p.M / 16), nBatch], 'matmul');
  }
}
