// Strided batched matmul on the GEMM template: operand layouts (transposes, broadcast batches, offsets) are
// strides in the uniforms. When strides and offsets allow, an operand binds as array<vec4<f32>> so a lane loads
// four consecutive k (A, or B stored as W^T) or four consecutive columns (B) at once: llvmpipe is load-bound.
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, dispatch, wgslOffsetFn } from '../common.ts';
import type { MatmulPlan } from './matmul.cpu.ts';
import { gemmProgram, type GemmLayout, type GemmVariant } from './gemm.template.ts';

export type MatmulVariant = GemmVariant;

interface VecFlags { vecA: boolean; vecBk: boolean; vecBn: boolean; bias?: boolean; vecC?: boolean; batchRank: number }

function layout(f: VecFlags): GemmLayout {
  const aT = f.vecA ? 'vec4<f32>' : 'f32';
  const bT = f.vecBk || f.vecBn ? 'vec4<f32>' : 'f32';
  const at = (arr: string, vec: boolean, i: string) => (vec ? `${arr}[(${i}) / 4u][(${i}) % 4u]` : `${arr}[${i}]`);
  return {
    key: `strided:br${f.batchRank}${f.vecA ? ':a4' : ''}${f.vecBk ? ':bk4' : ''}${f.vecBn ? ':bn4' : ''}${f.vecC ? ':c4' : ''}${f.bias ? ':bias' : ''}`,
    ...f,
    wgsl: `
struct U {
  M: u32, N: u32, K: u32, batchRank: u32,
  aRow: u32, aCol: u32, bRow: u32, bCol: u32,
  aOff: u32, bOff: u32, nBatch: u32, biasOff: u32,
  oOff: u32, _p0: u32, _p1: u32, _p2: u32,
  bShape: array<vec4<u32>, 2>, aBS: array<vec4<u32>, 2>, bBS: array<vec4<u32>, 2>,
};
@group(1) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> A: array<${aT}>;
@group(0) @binding(2) var<storage, read> B: array<${bT}>;
@group(0) @binding(3) var<storage, read_write> O: array<${f.vecC ? 'vec4<f32>' : 'f32'}>;
${f.bias ? '@group(0) @binding(4) var<storage, read> BIAS: array<f32>;' : ''}
// Offsets of batch b in A and B (broadcast batch dims have stride 0).
${wgslOffsetFn('batchOffsets', f.batchRank, 'u.bShape', ['u.aBS', 'u.bBS'])}
alias RowA = u32;
alias ColB = u32;
fn rowA(b: u32, m: u32) -> u32 { return batchOffsets(b, vec2<u32>(u.aOff, u.bOff)).x + m * u.aRow; }
fn colB(b: u32, n: u32) -> u32 { return batchOffsets(b, vec2<u32>(u.aOff, u.bOff)).y + n * u.bCol; }
fn loadA(r: u32, k: u32) -> f32 { return ${at('A', f.vecA, 'r + k * u.aCol')}; }
fn loadB(c: u32, k: u32) -> f32 { return ${at('B', f.vecBk || f.vecBn, 'c + k * u.bRow')}; }
${f.vecA ? 'fn loadA4(r: u32, k: u32) -> vec4<f32> { return A[(r + k) / 4u]; }' : ''}
${f.vecBk ? 'fn loadB4(c: u32, k: u32) -> vec4<f32> { return B[(c + k) / 4u]; }' : ''}
${f.vecBn ? 'fn loadBn4(c: u32, k: u32) -> vec4<f32> { return B[(c + k * u.bRow) / 4u]; }' : ''}
// O is dense from u.oOff (a piece of a larger output when split for the binding limit, kernels/split.ts).
// The linear layer's bias is added in the epilogue: one dispatch instead of a matmul and a broadcast add.
fn storeC(b: u32, m: u32, n: u32, v: f32) { ${f.vecC ? 'let i = u.oOff + (b * u.M + m) * u.N + n; O[i / 4u][i % 4u]' : 'O[u.oOff + (b * u.M + m) * u.N + n]'} = v${f.bias ? ' + BIAS[u.biasOff + n]' : ''}; }
${f.vecC ? `fn storeC4(b: u32, m: u32, n: u32, v: vec4<f32>) { O[(u.oOff + (b * u.M + m) * u.N + n) / 4u] = v${f.bias ? ' + vec4<f32>(BIAS[u.biasOff + n], BIAS[u.biasOff + n + 1u], BIAS[u.biasOff + n + 2u], BIAS[u.biasOff + n + 3u])' : ''}; }` : ''}
`,
  };
}

const div4 = (...xs: number[]) => xs.every((x) => x % 4 === 0);

/** Which operands can be read four at a time (unit stride along the vector, 16-byte aligned rows). */
export function vecFlags(p: MatmulPlan): Omit<VecFlags, 'batchRank'> {
  const vecA = p.aCol === 1 && div4(p.aRow, p.aOffset, p.K, ...p.aBatchStrides);
  const vecBn = p.bCol === 1 && div4(p.bRow, p.bOffset, p.N, ...p.bBatchStrides);
  const vecBk = !vecBn && p.bRow === 1 && div4(p.bCol, p.bOffset, p.K, ...p.bBatchStrides);
  return { vecA, vecBk, vecBn };
}

export function matmulWgsl(a: Tensor, b: Tensor, out: Tensor, p: MatmulPlan, variant: MatmulVariant, subgroupSize: number, bias: Tensor | null = null): void {
  const nBatch = p.batchShape.reduce((x, y) => x * y, 1);
  const u = new Uniforms()
    .u32(p.M).u32(p.N).u32(p.K).u32(p.batchShape.length)
    .u32(p.aRow).u32(p.aCol).u32(p.bRow).u32(p.bCol)
    .u32(p.aOffset).u32(p.bOffset).u32(nBatch).u32(bias?.offset ?? 0)
    .u32(out.offset).u32(0).u32(0).u32(0)
    .arr8(p.batchShape, 1).arr8(p.aBatchStrides).arr8(p.bBatchStrides);
  const sub = variant === 'subgroup' && !process.env.FIANET_NOVEC;
  // vec4 stores of the output rows: four columns a lane in one store instead of four bounds-checked ones.
  const vecC = sub && p.N % 4 === 0 && out.offset % 4 === 0;
  const flags = { ...(sub ? vecFlags(p) : { vecA: false, vecBk: false, vecBn: false }), bias: !!bias, vecC, batchRank: p.batchShape.length };
  const prog = gemmProgram(layout(flags), variant, subgroupSize, p.M, p.N, nBatch, p.K);
  const ts = bias ? [a, b, out, bias] : [a, b, out];
  dispatch(prog.key, bias ? ['read', 'read', 'rw', 'read'] : ['read', 'read', 'rw'], prog.code, ts, u, prog.grid, 'matmul');
}
