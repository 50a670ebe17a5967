// Fused attention kernels for llvmpipe-class adapters (loads, not FLOPs, set the speed; subgroup broadcast is
// a register shuffle; barriers are slow; PERF-NOTES.md). A workgroup is one subgroup of S lanes and owns
// R·S query rows of one (batch, head): lane l holds rows q0 + l + r·S, r < R, and their logits in private
// arrays (up to CAP keys). No shared memory, no barrier.
//   dot phase  s_r[j] += q_row·k_j over D in chunks of W columns (any head dim, 1024 included): per key
//              each lane loads W/S elements of k_j and subgroupBroadcast hands them to all lanes, so one
//              load feeds R·S FMAs per lane.
//   mix phase  out = Σ_j w[j]·v_j over Dv in chunks of W: lanes own output columns and the row weights are
//              broadcast, so each row's store is adjacent addresses across the lanes.
//   forward    dot(Q, K), + bias + mask, softmax in registers, mix(P, V); writes O through output strides
//              and the row logsumexp.
//   backward   the row pass: dot(Q, K) and dot(dO, V), P = exp(s - lse), dS = P(dP - rowsum(P dP)); writes
//              Pᵀ and scale·dSᵀ (dK, dV and dBias are then plain matmuls/reductions; transposed, the lanes' rows
//              are adjacent addresses) and dQ = scale·mix(dS, K).
// Variants: subgroup size S, register blocking R/W, key capacity CAP, bias/mask present. Shapes, strides,
// offsets and the scale travel in uniforms.
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, dispatch } from '../common.ts';
import type { AttentionPlan } from './attention.cpu.ts';

/**
 * Register blocking: R query rows per lane, chunks of W columns (a multiple of S). The kernels hold R·W
 * chunk values and R·W accumulators per lane, fully unrolled; llvmpipe's compile time grows steeply with
 * R·W·S (S=8: R2·W32 compiles the backward in ~15 s on a loaded 2-core machine, R2·W16 in ~5 s, for ~1.1-1.4x
 * the runtime), so by default W = max(16, S) and R = 256 / (S·W), at least 1. FIANET_ATT_R / FIANET_ATT_W
 * (or setAttentionTuning, for benchmarks) override.
 */
const tuning: { R: number | null; W: number | null } = {
  R: process.env.FIANET_ATT_R ? Number(process.env.FIANET_ATT_R) : null,
  W: process.env.FIANET_ATT_W ? Number(process.env.FIANET_ATT_W) : null,
};
export function setAttentionTuning(t: { R?: number | null; W?: number | null }): void {
  Object.assign(tuning, t);
}
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
  scale: f32, per: u32, nIter: u32, _p0: u32,
  qOff: u32, kOff: u32, vOff: u32, gOff: u32,
  qS: vec4<u32>, kS: vec4<u32>, vS: vec4<u32>, gS: vec4<u32>, oS: vec4<u32>,
  bSh: vec4<u32>, bSt: vec4<u32>, mSh: vec4<u32>, mSt: vec4<u32>,
  bOff: u32, mOff: u32, oOff: u32, lseOff: u32,
};
@group(1) @binding(0) var<uniform> u: U;
fn addBase(sh: vec4<u32>, st: vec4<u32>, b: u32, h: u32, i: u32) -> u32 {
  return (b % sh.x) * st.x + (h % sh.y) * st.y + (i % sh.z) * st.z;
}`;

interface Gen { S: number; R: number; W: number; CW: number; cap: number; bias: boolean; mask: boolean; dbias: boolean }

const rows = (g: Gen, f: (r: number) => string) => Array.from({ length: g.R }, (_, r) => f(r)).join('\n  ');
const range = (n: number) => [...Array(n).keys()];

/**
 * acc_r[j] += Σ_c A[row_r, c] · Bm[j, c] over c < len, for every key j. A is read per lane (its own rows),
 * Bm through broadcast: lane l loads column dc + c·S + l of key j.
 */
function dotPhase(g: Gen, acc: string, A: string, aOff: string, aS: string, Bm: string, bOff: string, bS: string, len: string): string {
  const { S, R, W, CW } = g;
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
  ${rows(g, (r) => `let aBase${r} = ${aOff} + b * ${aS}.x + h * ${aS}.y + row${r} * ${aS}.z;`)}
  let bBase = ${bOff} + b * ${bS}.x + h * ${bS}.y;
  for (var j = 0u; j < u.Nk; j++) { ${rows(g, (r) => `${acc}${r}[j] = 0.0;`)} }
  for (var dc = 0u; dc < ${len}; dc += ${W}u) {
    ${aLoads.join('\n    ')}
    ${range(CW).map((c) => `let cOk${c} = dc + ${c * S}u + lane < ${len}; let cOff${c} = min(dc + ${c * S}u + lane, ${len} - 1u) * ${bS}.w;`).join('\n    ')}
    for (var j = 0u; j < u.Nk; j++) {
      let kr = bBase + j * ${bS}.z;
      ${range(CW).map((c) => `let k${c} = select(0.0, ${Bm}[kr + cOff${c}], cOk${c});`).join('\n      ')}
      ${rows(g, (r) => `var s${r} = ${acc}${r}[j];`)}
      ${fmas.join('\n      ')}
      ${rows(g, (r) => `${acc}${r}[j] = s${r};`)}
    }
  }
}`;
}

/**
 * Out[row, c] = mult(row) · Σ_j w(row)[j] · Vm[j, c] for c < len, written through oS. Here the lanes own
 * output columns (lane l: dc + l + c·S) and the weights travel: lane li's w_r[j] is broadcast as the weight
 * of row q0 + li + r·S. Same loads, broadcasts and FMAs as lanes owning rows, but each row's store is a run
 * of adjacent addresses across the lanes instead of S scattered rows.
 */
function mixPhase(g: Gen, w: string, Vm: string, vOff: string, vS: string, len: string, Out: string, mult: (r: number) => string): string {
  const { S, R, CW } = g;
  const acc = (r: number, li: number, c: number) => `o${r}_${li}_${c}`;
  const decl = range(R).map((r) => range(S).map((li) => range(CW).map((c) => `var ${acc(r, li, c)} = 0.0;`).join(' ')).join(' ')).join('\n    ');
  const fmas: string[] = [];
  for (let r = 0; r < R; r++) {
    for (let li = 0; li < S; li++) {
      fmas.push(`let x${r}_${li} = subgroupBroadcast(w${r}, ${li}u);`);
      for (let c = 0; c < CW; c++) fmas.push(`${acc(r, li, c)} += x${r}_${li} * v${c};`);
    }
  }
  const stores: string[] = [];
  for (let r = 0; r < R; r++) {
    stores.push(`let m${r} = ${mult(r)};`);
    for (let li = 0; li < S; li++) {
      stores.push(`{
      let row = q0 + ${li + r * S}u;
      let m = subgroupBroadcast(m${r}, ${li}u);
      if (row < u.Nq) {
        let ob = u.oOff + b * u.oS.x + h * u.oS.y + row * u.oS.z;
        ${range(CW).map((c) => `if (cOk${c}) { ${Out}[ob + (dc + ${c * S}u + lane) * u.oS.w] = ${acc(r, li, c)} * m; }`).join('\n        ')}
      }
    }`);
    }
  }
  return `{
  let vBase = ${vOff} + b * ${vS}.x + h * ${vS}.y;
  for (var dc = 0u; dc < ${len}; dc += ${g.W}u) {
    ${decl}
    ${range(CW).map((c) => `let cOk${c} = dc + ${c * S}u + lane < ${len}; let cOff${c} = min(dc + ${c * S}u + lane, ${len} - 1u) * ${vS}.w;`).join('\n    ')}
    for (var j = 0u; j < u.Nk; j++) {
      let vr = vBase + j * ${vS}.z;
      ${range(CW).map((c) => `let v${c} = select(0.0, ${Vm}[vr + cOff${c}], cOk${c});`).join('\n      ')}
      ${rows(g, (r) => `let w${r} = ${w}${r}[j];`)}
      ${fmas.join('\n      ')}
    }
    ${stores.join('\n    ')}
  }
}`;
}

/** Adds scale, bias and mask to the raw dot products in sc_r[j] (in place). */
function logitsPhase(g: Gen): string {
  const terms = (r: number) => `${g.bias ? ` + BIAS[bb${r} + j * u.bSt.w]` : ''}${g.mask ? ` + MASK[mb${r} + j * u.mSt.w]` : ''}`;
  return rows(g, (r) => `${g.bias ? `let bb${r} = u.bOff + addBase(u.bSh, u.bSt, b, h, row${r});` : ''}
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
  if (gi >= u.qBlocks * u.per * u.H) { return; }
  // A workgroup serves batches b0 + n·per + pI, n < nIter, of head h (the backward with a bias gradient
  // loops over the bias's batch period to sum dBias in registers; otherwise nIter = 1).
  let pI = gi / u.qBlocks / u.H;
  let h = (gi / u.qBlocks) % u.H;
  let q0 = (gi % u.qBlocks) * ${g.R * g.S}u;
  // Rows past Nq are clamped: computed on duplicates (the broadcasts need every lane), never stored.
  ${rows(g, (r) => `let ok${r} = q0 + lane + ${r * g.S}u < u.Nq; let row${r} = min(q0 + lane + ${r * g.S}u, u.Nq - 1u);`)}
  ${rows(g, (r) => `var sc${r}: array<f32, ${g.cap}>;`)}`;
}

function additiveBindings(g: Gen): string[] {
  return [...(g.bias ? ['BIAS:r'] : []), ...(g.mask ? ['MASK:r'] : [])];
}

export function forwardSource(g: Gen): string {
  return `${header(g, ['Q:r', 'K:r', 'V:r', ...additiveBindings(g), 'O:rw', 'LSE:rw'])}
  let b = pI;
  let bh = b * u.H + h;
  ${dotPhase(g, 'sc', 'Q', 'u.qOff', 'u.qS', 'K', 'u.kOff', 'u.kS', 'u.D')}
  ${logitsPhase(g)}
  ${rows(g, (r) => `var mx${r} = -3.4028234663852886e38;
  for (var j = 0u; j < u.Nk; j++) { mx${r} = max(mx${r}, sc${r}[j]); }
  var l${r} = 0.0;
  for (var j = 0u; j < u.Nk; j++) { let p = exp(sc${r}[j] - mx${r}); sc${r}[j] = p; l${r} += p; }
  let inv${r} = 1.0 / l${r};
  if (ok${r}) { LSE[u.lseOff + bh * u.Nq + row${r}] = mx${r} + log(l${r}); }`)}
  ${mixPhase(g, 'sc', 'V', 'u.vOff', 'u.vS', 'u.Dv', 'O', (r) => `inv${r}`)}
}`;
}

export function backwardSource(g: Gen): string {
  const out = ['DQ:rw', 'P:rw', 'DS:rw', ...(g.dbias ? ['DB:rw'] : [])];
  return `${header(g, ['Q:r', 'K:r', 'V:r', 'G:r', 'LSE:r', ...additiveBindings(g), ...out])}
  ${rows(g, (r) => `var dp${r}: array<f32, ${g.cap}>;`)}
  ${g.dbias ? rows(g, (r) => `var db${r}: array<f32, ${g.cap}>;`) : ''}
  for (var n = 0u; n < u.nIter; n++) {
  let bhl = (n * u.per + pI) * u.H + h; // (batch, head) within this launch's chunk
  let b = u.b0 + n * u.per + pI;
  let bh = b * u.H + h;
  ${dotPhase(g, 'sc', 'Q', 'u.qOff', 'u.qS', 'K', 'u.kOff', 'u.kS', 'u.D')}
  ${dotPhase(g, 'dp', 'G', 'u.gOff', 'u.gS', 'V', 'u.vOff', 'u.vS', 'u.Dv')}
  ${logitsPhase(g)}
  ${rows(g, (r) => `let ls${r} = LSE[u.lseOff + bh * u.Nq + row${r}];
  var di${r} = 0.0;
  for (var j = 0u; j < u.Nk; j++) { let p = exp(sc${r}[j] - ls${r}); sc${r}[j] = p; di${r} += p * dp${r}[j]; }
  let pb${r} = bhl * u.Nk * u.Nq + row${r};
  for (var j = 0u; j < u.Nk; j++) {
    let ds = sc${r}[j] * (dp${r}[j] - di${r});
    dp${r}[j] = ds;${g.dbias ? `
    db${r}[j] += ds;` : ''}
    if (ok${r}) { P[pb${r} + j * u.Nq] = sc${r}[j]; DS[pb${r} + j * u.Nq] = ds * u.scale; }
  }`)}
  ${mixPhase(g, 'dp', 'K', 'u.kOff', 'u.kS', 'u.D', 'DQ', () => 'u.scale')}
  }
  ${g.dbias ? rows(g, (r) => `if (ok${r}) {
    let o = ((pI * u.H + h) * u.Nq + row${r}) * u.Nk;
    for (var j = 0u; j < u.Nk; j++) { DB[o + j] = db${r}[j]; }
  }`) : ''}
}`;
}

function capFor(Nk: number): number {
  const c = ATTENTION_CAPS.find((x) => x >= Nk);
  if (!c) throw new Error(`attention: ${Nk} keys exceed the fused kernel's ${ATTENTION_MAX_KEYS}`);
  return c;
}

function uniforms(p: AttentionPlan, q: StridedArg, k: StridedArg, v: StridedArg, g: StridedArg | null, o: StridedArg,
  bias: AdditiveArg | null, mask: AdditiveArg | null, b0: number, per: number, nIter: number, qBlocks: number, lse: Tensor): Uniforms {
  const v4 = (u: Uniforms, a: readonly number[]) => { u.pad(); for (const x of a) u.u32(x); return u; };
  const u = new Uniforms().u32(p.B).u32(p.H).u32(p.Nq).u32(p.Nk).u32(p.D).u32(p.Dv).u32(qBlocks).u32(b0)
    .f32(p.scale).u32(per).u32(nIter).u32(0)
    .u32(q.t.offset).u32(k.t.offset).u32(v.t.offset).u32(g?.t.offset ?? 0);
  for (const s of [q.strides, k.strides, v.strides, g?.strides ?? [0, 0, 0, 0], o.strides]) v4(u, s);
  v4(u, bias?.shape ?? [1, 1, 1, 1]); v4(u, bias?.strides ?? [0, 0, 0, 0]);
  v4(u, mask?.shape ?? [1, 1, 1, 1]); v4(u, mask?.strides ?? [0, 0, 0, 0]);
  return u.u32(bias?.t.offset ?? 0).u32(mask?.t.offset ?? 0).u32(o.t.offset).u32(lse.offset);
}

/** Workgroups: query blocks x `per` batch slots x heads, folded into y beyond 65535. */
function launch(p: AttentionPlan, g: Gen, per: number): { qBlocks: number; grid: [number, number, number] } {
  const qBlocks = Math.ceil(p.Nq / (g.R * g.S));
  const total = qBlocks * per * p.H;
  const x = Math.min(total, 65535);
  return { qBlocks, grid: [x, Math.ceil(total / x), 1] };
}

function gen(S: number, Nk: number, bias: boolean, mask: boolean, dbias = false): Gen {
  const CW = Math.max(1, Math.floor((tuning.W ?? Math.max(16, S)) / S));
  const R = tuning.R ?? Math.max(1, Math.floor(256 / (S * CW * S)));
  return { S, R, CW, W: CW * S, cap: capFor(Nk), bias, mask, dbias };
}
const keyOf = (name: string, g: Gen) =>
  `${name}:s${g.S}:r${g.R}:w${g.W}:cap${g.cap}:${g.bias ? 'bias' : 'nobias'}:${g.mask ? 'mask' : 'nomask'}${g.dbias ? ':dbias' : ''}`;

/** out: O written through oStrides (4-D) from its offset; lse: (B, H, Nq) dense from its offset. */
export function attentionForwardWgsl(p: AttentionPlan, S: number, q: StridedArg, k: StridedArg, v: StridedArg,
  bias: AdditiveArg | null, mask: AdditiveArg | null, out: Tensor, oStrides: readonly number[], lse: Tensor): void {
  const g = gen(S, p.Nk, !!bias, !!mask);
  const { qBlocks, grid } = launch(p, g, p.B);
  const u = uniforms(p, q, k, v, null, { t: out, strides: oStrides }, bias, mask, 0, p.B, 1, qBlocks, lse);
  const ts = [q.t, k.t, v.t, ...(bias ? [bias.t] : []), ...(mask ? [mask.t] : []), out, lse];
  const bind = ts.map((_, i) => (i >= ts.length - 2 ? 'rw' : 'read') as 'read' | 'rw');
  const key = keyOf('attention_fwd', g);
  dispatch(key, bind, () => forwardSource(g), ts, u, grid, 'attention');
}

/**
 * Row pass of the backward for batches [b0, b0 + nB): dq (B, H, Nq, D) through its strides (a view into a
 * packed qkv gradient, say); Pᵀ and scale·dSᵀ (nB, H, Nk, Nq).
 * With dBias (period, H, Nq, Nk) given, the bias's batch period must divide nB and b0: each workgroup then
 * loops over the batches of one period slot and writes their dS sum (no second reduction pass).
 */
export function attentionBackwardRowsWgsl(p: AttentionPlan, S: number, q: StridedArg, k: StridedArg, v: StridedArg, g: StridedArg,
  lse: Tensor, bias: AdditiveArg | null, mask: AdditiveArg | null, b0: number, nB: number, dq: StridedArg, P: Tensor, dS: Tensor,
  dBias: Tensor | null = null): void {
  const gg = gen(S, p.Nk, !!bias, !!mask, !!dBias);
  const per = dBias ? bias!.shape[0]! : nB;
  const { qBlocks, grid } = launch(p, gg, per);
  const u = uniforms(p, q, k, v, g, dq, bias, mask, b0, per, nB / per, qBlocks, lse);
  const outs = [dq.t, P, dS, ...(dBias ? [dBias] : [])];
  const ts = [q.t, k.t, v.t, g.t, lse, ...(bias ? [bias.t] : []), ...(mask ? [mask.t] : []), ...outs];
  const bind = ts.map((_, i) => (i >= ts.length - outs.length ? 'rw' : 'read') as 'read' | 'rw');
  const key = keyOf('attention_bwd', gg);
  dispatch(key, bind, () => backwardSource(gg), ts, u, grid, 'attention_backward');
}
