// Fused attention kernels for llvmpipe-class adapters (loads, not FLOPs, set the speed; subgroup broadcast is
// a register shuffle; barriers are slow; PERF-NOTES.md). A workgroup is one subgroup of S lanes and owns
// R·S query rows of one (batch, head): lane l holds rows q0 + l + r·S, r < R. Per key j every lane loads one
// element of k_j (or v_j) per S columns and subgroupBroadcast hands it to all lanes, so one load feeds R·S
// FMAs per lane, with no shared memory and no barrier.
//   forward   scores s_j (private array, up to CAP keys) accumulated over D in chunks of W columns (so any
//             head dim works, 1024 included), softmax in registers, then O = P·V over Dv in chunks of W;
//             writes O through output strides and the row logsumexp.
//   backward  the row pass: rebuilds P from the logsumexp, dP = dO·Vᵀ the same way as the scores,
//             dS = P(dP - rowsum(P dP)), writes P and dS (for dK, dV and dBias: plain matmuls/reductions)
//             and dQ = scale dS·K.
// Variants: subgroup size S, key capacity CAP (private array length), bias/mask present. Shapes, strides,
// offsets and the scale travel in uniforms.
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, dispatch } from '../common.ts';
import type { AttentionPlan } from './attention.cpu.ts';

/** Query rows per lane. */
const R = 2;
/** Key capacities (private score arrays); longer key sequences take the composed path. */
export const ATTENTION_CAPS = [32, 64, 160, 256] as const;
export const ATTENTION_MAX_KEYS = ATTENTION_CAPS[ATTENTION_CAPS.length - 1]!;

export interface StridedArg {
  t: Tensor;
  strides: readonly number[]; // 4-D, in elements
}
export interface AdditiveArg extends StridedArg {
  shape: readonly number[]; // 4-D, dims 1 or divisors of (B, H, Nq, Nk)
}

const UNIFORM = `
struct U {
  B: u32, H: u32, Nq: u32, Nk: u32,
  D: u32, Dv: u32, qBlocks: u32, b0: u32,
  scale: f32, nB: u32, _p0: u32, _p1: u32,
  qOff: u32, kOff: u32, vOff: u32, gOff: u32,
  qS: vec4<u32>, kS: vec4<u32>, vS: vec4<u32>, gS: vec4<u32>, oS: vec4<u32>,
  bSh: vec4<u32>, bSt: vec4<u32>, mSh: vec4<u32>, mSt: vec4<u32>,
  bOff: u32, mOff: u32, _p2: u32, _p3: u32,
};
@group(0) @binding(0) var<uniform> u: U;
fn addBase(sh: vec4<u32>, st: vec4<u32>, b: u32, h: u32, i: u32) -> u32 {
  return (b % sh.x) * st.x + (h % sh.y) * st.y + (i % sh.z) * st.z;
}`;

interface Gen { S: number; W: number; CW: number; cap: number; bias: boolean; mask: boolean }

const rows = (f: (r: number) => string) => Array.from({ length: R }, (_, r) => f(r)).join('\n  ');
const range = (n: number) => [...Array(n).keys()];

/**
 * acc_r[j] += Σ_c A[row_r, c] · Bm[j, c] over c < len, for every key j. A is read per lane (its own rows),
 * Bm through broadcast: lane l loads column dc + c·S + l of key j.
 */
function dotPhase(g: Gen, acc: string, A: string, aOff: string, aS: string, Bm: string, bOff: string, bS: string, len: string): string {
  const { S, W, CW } = g;
  const aLoads: string[] = [];
  for (let r = 0; r < R; r++) {
    for (let t = 0; t < W; t++) {
      aLoads.push(`let a${r}_${t} = select(0.0, ${A}[aBase${r} + min(dc + ${t}u, ${len} - 1u) * ${aS}.w], dc + ${t}u < ${len});`);
    }
  }
  const fmas: string[] = [];
  for (let c = 0; c < CW; c++) {
    for (let t = 0; t < S; t++) {
      const bc = `subgroupBroadcast(k${c}, ${t}u)`;
      fmas.push(`let x${c}_${t} = ${bc};`);
      for (let r = 0; r < R; r++) fmas.push(`s${r} += a${r}_${c * S + t} * x${c}_${t};`);
    }
  }
  return `{
  ${rows((r) => `let aBase${r} = ${aOff} + b * ${aS}.x + h * ${aS}.y + row${r} * ${aS}.z;`)}
  let bBase = ${bOff} + b * ${bS}.x + h * ${bS}.y;
  for (var j = 0u; j < u.Nk; j++) { ${rows((r) => `${acc}${r}[j] = 0.0;`)} }
  for (var dc = 0u; dc < ${len}; dc += ${W}u) {
    ${aLoads.join('\n    ')}
    ${range(CW).map((c) => `let cOk${c} = dc + ${c * S}u + lane < ${len}; let cOff${c} = min(dc + ${c * S}u + lane, ${len} - 1u) * ${bS}.w;`).join('\n    ')}
    for (var j = 0u; j < u.Nk; j++) {
      let kr = bBase + j * ${bS}.z;
      ${range(CW).map((c) => `let k${c} = select(0.0, ${Bm}[kr + cOff${c}], cOk${c});`).join('\n      ')}
      ${rows((r) => `var s${r} = ${acc}${r}[j];`)}
      ${fmas.join('\n      ')}
      ${rows((r) => `${acc}${r}[j] = s${r};`)}
    }
  }
}`;
}

/** Out[row_r, c] = mult_r · Σ_j w_r[j] · Vm[j, c] for c < len, written through oS at oOff. */
function mixPhase(g: Gen, w: string, Vm: string, vOff: string, vS: string, len: string, Out: string, oBase: (r: number) => string, mult: (r: number) => string): string {
  const { S, W, CW } = g;
  const decl = range(R).map((r) => range(W).map((t) => `var o${r}_${t} = 0.0;`).join(' ')).join('\n    ');
  const fmas: string[] = [];
  for (let c = 0; c < CW; c++) {
    for (let t = 0; t < S; t++) {
      fmas.push(`let x${c}_${t} = subgroupBroadcast(v${c}, ${t}u);`);
      for (let r = 0; r < R; r++) fmas.push(`o${r}_${c * S + t} += w${r} * x${c}_${t};`);
    }
  }
  const stores = range(R).map((r) => `if (ok${r}) {
      let ob = ${oBase(r)};
      let m = ${mult(r)};
      ${range(W).map((t) => `if (dc + ${t}u < ${len}) { ${Out}[ob + (dc + ${t}u) * u.oS.w] = o${r}_${t} * m; }`).join('\n      ')}
    }`).join('\n    ');
  return `{
  let vBase = ${vOff} + b * ${vS}.x + h * ${vS}.y;
  for (var dc = 0u; dc < ${len}; dc += ${W}u) {
    ${decl}
    ${range(CW).map((c) => `let cOk${c} = dc + ${c * S}u + lane < ${len}; let cOff${c} = min(dc + ${c * S}u + lane, ${len} - 1u) * ${vS}.w;`).join('\n    ')}
    for (var j = 0u; j < u.Nk; j++) {
      let vr = vBase + j * ${vS}.z;
      ${range(CW).map((c) => `let v${c} = select(0.0, ${Vm}[vr + cOff${c}], cOk${c});`).join('\n      ')}
      ${rows((r) => `let w${r} = ${w}${r}[j];`)}
      ${fmas.join('\n      ')}
    }
    ${stores}
  }
}`;
}

/** Adds scale, bias and mask to the raw dot products in sc_r[j] (in place). */
function logitsPhase(g: Gen): string {
  const terms = (r: number) => `${g.bias ? ` + BIAS[bb${r} + j * u.bSt.w]` : ''}${g.mask ? ` + MASK[mb${r} + j * u.mSt.w]` : ''}`;
  return rows((r) => `${g.bias ? `let bb${r} = u.bOff + addBase(u.bSh, u.bSt, b, h, row${r});` : ''}
  ${g.mask ? `let mb${r} = u.mOff + addBase(u.mSh, u.mSt, b, h, row${r});` : ''}
  for (var j = 0u; j < u.Nk; j++) { sc${r}[j] = sc${r}[j] * u.scale${terms(r)}; }`);
}

function header(g: Gen, bindings: string[]): string {
  const decl = bindings.map((b, i) => {
    const [name, access] = b.split(':');
    return `@group(0) @binding(${i + 1}) var<storage, ${access === 'rw' ? 'read_write' : 'read'}> ${name}: array<f32>;`;
  });
  return `enable subgroups;
${UNIFORM}
${decl.join('\n')}
@compute @workgroup_size(${g.S})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let gi = wid.y * nwg.x + wid.x;
  if (gi >= u.qBlocks * u.nB * u.H) { return; }
  let bhl = gi / u.qBlocks;          // (batch, head) within this launch's batch chunk
  let b = u.b0 + bhl / u.H;
  let h = bhl % u.H;
  let bh = b * u.H + h;
  let q0 = (gi % u.qBlocks) * ${R * g.S}u;
  // Rows past Nq are clamped: computed on duplicates (the broadcasts need every lane), never stored.
  ${rows((r) => `let ok${r} = q0 + lane + ${r * g.S}u < u.Nq; let row${r} = min(q0 + lane + ${r * g.S}u, u.Nq - 1u);`)}
  ${rows((r) => `var sc${r}: array<f32, ${g.cap}>;`)}`;
}

function additiveBindings(g: Gen): string[] {
  return [...(g.bias ? ['BIAS:r'] : []), ...(g.mask ? ['MASK:r'] : [])];
}

export function forwardSource(g: Gen): string {
  return `${header(g, ['Q:r', 'K:r', 'V:r', ...additiveBindings(g), 'O:rw', 'LSE:rw'])}
  ${dotPhase(g, 'sc', 'Q', 'u.qOff', 'u.qS', 'K', 'u.kOff', 'u.kS', 'u.D')}
  ${logitsPhase(g)}
  ${rows((r) => `var mx${r} = -3.4028234663852886e38;
  for (var j = 0u; j < u.Nk; j++) { mx${r} = max(mx${r}, sc${r}[j]); }
  var l${r} = 0.0;
  for (var j = 0u; j < u.Nk; j++) { let p = exp(sc${r}[j] - mx${r}); sc${r}[j] = p; l${r} += p; }
  let inv${r} = 1.0 / l${r};
  if (ok${r}) { LSE[bh * u.Nq + row${r}] = mx${r} + log(l${r}); }`)}
  ${mixPhase(g, 'sc', 'V', 'u.vOff', 'u.vS', 'u.Dv', 'O', (r) => `b * u.oS.x + h * u.oS.y + row${r} * u.oS.z`, (r) => `inv${r}`)}
}`;
}

export function backwardSource(g: Gen): string {
  return `${header(g, ['Q:r', 'K:r', 'V:r', 'G:r', 'LSE:r', ...additiveBindings(g), 'DQ:rw', 'P:rw', 'DS:rw'])}
  ${rows((r) => `var dp${r}: array<f32, ${g.cap}>;`)}
  ${dotPhase(g, 'sc', 'Q', 'u.qOff', 'u.qS', 'K', 'u.kOff', 'u.kS', 'u.D')}
  ${dotPhase(g, 'dp', 'G', 'u.gOff', 'u.gS', 'V', 'u.vOff', 'u.vS', 'u.Dv')}
  ${logitsPhase(g)}
  ${rows((r) => `let ls${r} = LSE[bh * u.Nq + row${r}];
  var di${r} = 0.0;
  for (var j = 0u; j < u.Nk; j++) { let p = exp(sc${r}[j] - ls${r}); sc${r}[j] = p; di${r} += p * dp${r}[j]; }
  let pb${r} = (bhl * u.Nq + row${r}) * u.Nk;
  for (var j = 0u; j < u.Nk; j++) {
    let ds = sc${r}[j] * (dp${r}[j] - di${r});
    dp${r}[j] = ds;
    if (ok${r}) { P[pb${r} + j] = sc${r}[j]; DS[pb${r} + j] = ds; }
  }`)}
  ${mixPhase(g, 'dp', 'K', 'u.kOff', 'u.kS', 'u.D', 'DQ', (r) => `b * u.oS.x + h * u.oS.y + row${r} * u.oS.z`, () => 'u.scale')}
}`;
}

function capFor(Nk: number): number {
  const c = ATTENTION_CAPS.find((x) => x >= Nk);
  if (!c) throw new Error(`attention: ${Nk} keys exceed the fused kernel's ${ATTENTION_MAX_KEYS}`);
  return c;
}

function uniforms(p: AttentionPlan, q: StridedArg, k: StridedArg, v: StridedArg, g: StridedArg | null, oStrides: readonly number[],
  bias: AdditiveArg | null, mask: AdditiveArg | null, b0: number, nB: number, qBlocks: number): Uniforms {
  const v4 = (u: Uniforms, a: readonly number[]) => { u.pad(); for (const x of a) u.u32(x); return u; };
  const u = new Uniforms().u32(p.B).u32(p.H).u32(p.Nq).u32(p.Nk).u32(p.D).u32(p.Dv).u32(qBlocks).u32(b0)
    .f32(p.scale).u32(nB).u32(0).u32(0)
    .u32(q.t.offset).u32(k.t.offset).u32(v.t.offset).u32(g?.t.offset ?? 0);
  for (const s of [q.strides, k.strides, v.strides, g?.strides ?? [0, 0, 0, 0], oStrides]) v4(u, s);
  v4(u, bias?.shape ?? [1, 1, 1, 1]); v4(u, bias?.strides ?? [0, 0, 0, 0]);
  v4(u, mask?.shape ?? [1, 1, 1, 1]); v4(u, mask?.strides ?? [0, 0, 0, 0]);
  return u.u32(bias?.t.offset ?? 0).u32(mask?.t.offset ?? 0).u32(0).u32(0);
}

function launch(p: AttentionPlan, S: number, nB: number): { qBlocks: number; grid: [number, number, number] } {
  const qBlocks = Math.ceil(p.Nq / (R * S));
  const total = qBlocks * nB * p.H;
  const x = Math.min(total, 65535);
  return { qBlocks, grid: [x, Math.ceil(total / x), 1] };
}

function gen(S: number, Nk: number, bias: boolean, mask: boolean): Gen {
  const CW = Math.max(1, Math.floor(32 / S)); // W = 32 columns per chunk whatever the subgroup size
  return { S, CW, W: CW * S, cap: capFor(Nk), bias, mask };
}
const keyOf = (name: string, g: Gen) => `${name}:s${g.S}:cap${g.cap}:${g.bias ? 'bias' : 'nobias'}:${g.mask ? 'mask' : 'nomask'}`;

/** out: O written through oStrides (4-D, offset 0); lse: (B, H, Nq) contiguous. */
export function attentionForwardWgsl(p: AttentionPlan, S: number, q: StridedArg, k: StridedArg, v: StridedArg,
  bias: AdditiveArg | null, mask: AdditiveArg | null, out: Tensor, oStrides: readonly number[], lse: Tensor): void {
  const g = gen(S, p.Nk, !!bias, !!mask);
  const { qBlocks, grid } = launch(p, S, p.B);
  const u = uniforms(p, q, k, v, null, oStrides, bias, mask, 0, p.B, qBlocks);
  const ts = [q.t, k.t, v.t, ...(bias ? [bias.t] : []), ...(mask ? [mask.t] : []), out, lse];
  const bind = ts.map((_, i) => (i >= ts.length - 2 ? 'rw' : 'read') as 'read' | 'rw');
  const key = keyOf('attention_fwd', g);
  dispatch(key, bind, () => forwardSource(g), ts, u, grid, 'attention');
}

/** Row pass of the backward for batches [b0, b0 + nB): dq (B, H, Nq, D) contiguous; P, dS (nB, H, Nq, Nk). */
export function attentionBackwardRowsWgsl(p: AttentionPlan, S: number, q: StridedArg, k: StridedArg, v: StridedArg, g: StridedArg,
  lse: Tensor, bias: AdditiveArg | null, mask: AdditiveArg | null, b0: number, nB: number, dq: Tensor, P: Tensor, dS: Tensor): void {
  const gg = gen(S, p.Nk, !!bias, !!mask);
  const { qBlocks, grid } = launch(p, S, nB);
  const dqStrides = [p.H * p.Nq * p.D, p.Nq * p.D, p.D, 1];
  const u = uniforms(p, q, k, v, g, dqStrides, bias, mask, b0, nB, qBlocks);
  const ts = [q.t, k.t, v.t, g.t, lse, ...(bias ? [bias.t] : []), ...(mask ? [mask.t] : []), dq, P, dS];
  const bind = ts.map((_, i) => (i >= ts.length - 3 ? 'rw' : 'read') as 'read' | 'rw');
  const key = keyOf('attention_bwd', gg);
  dispatch(key, bind, () => backwardSource(gg), ts, u, grid, 'attention_backward');
}
