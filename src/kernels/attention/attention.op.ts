// Multi-head scaled dot-product attention: attention(q, k, v, {scale, bias, mask}) with q (B, H, Nq, D) and
// k (B, H, Nk, D), v (B, H, Nk, Dv) (any strides: heads split from a (B, N, 3C) projection by reshape +
// permute are read in place), returning (B, H, Nq, Dv).
//
//   logits = scale · q kᵀ + bias + mask,  out = softmax(logits) v
//
// `bias` and `mask` are additive, broadcastable to (B, H, Nq, Nk); leading dims may be missing. Their batch
// dim may also be a divisor of B, read as b mod size (torch's `repeat`): Swin keeps windows in the batch dim
// (B·nW windows, image-major), so its shift mask is passed as (nW, 1, N, N) and serves every image. `bias`
// receives a gradient (Swin's relative-position bias (H, N, N), which flows on to the table through the
// caller's embedding gather); `mask` does not (BERT's key padding -10000·(1-m) as (B, 1, 1, Nk)).
//
// Two paths with one contract: the fused kernels (attention.wgsl.ts, and attention.cpu.ts on the cpu device)
// and the composed path (matmul, softmax-with-mask, matmul), which is the test oracle and the fallback
// (chooseAttentionPath: no subgroups, more than ATTENTION_MAX_KEYS keys, dropout, training with few keys for
// a large head dim, training on a hardware GPU). The fused forward saves only the row logsumexp (B, H, Nq);
// its backward rebuilds P.
import { apply, isGradEnabled, type FunctionDef } from '../../tensor/autograd.ts';
import { shapeStr } from '../../tensor/shape.ts';
import { empty, type Tensor } from '../../tensor/tensor.ts';
import { getRuntime } from '../../runtime/device.ts';
import { copyInto, permute, reshape, slice, transpose } from '../movement/movement.op.ts';
import { matmul, matmulKernel } from '../matmul/matmul.op.ts';
import { softmax } from '../softmax/softmax.op.ts';
import { add, dropout, mul } from '../elementwise/elementwise.op.ts';
import { defaultGenerator, type Generator } from '../../tensor/random.ts';
import { sumTo } from '../reduce/reduce.op.ts';
import { sameDevice } from '../common.ts';
import { fitsBinding, splitForBinding } from '../split.ts';
import { attentionBackwardRowsCpu, attentionForwardCpu, type AttentionPlan, type Operand4 } from './attention.cpu.ts';
import { ATTENTION_MAX_KEYS, attentionBackwardRowsWgsl, attentionForwardWgsl } from './attention.wgsl.ts';

export interface AttentionOptions {
  /** Multiplies q·kᵀ; default 1/sqrt(D). */
  scale?: number;
  /** Additive logits bias, broadcastable (batch dim: or a divisor of B); receives a gradient. */
  bias?: Tensor | null;
  /** Additive logits mask, same broadcasting as bias; no gradient. */
  mask?: Tensor | null;
  /**
   * Dropout on the attention probabilities (BERT trains with 0.1, FIANET.md §3.1). The fused kernels have
   * none, so p > 0 takes the composed path (BERT's ≤ 22-token sequences are small).
   */
  dropout?: number;
  generator?: Generator;
}

export type AttentionPath = 'fused' | 'composed';
let forcedPath: AttentionPath | null = (process.env.FIANET_ATTENTION as AttentionPath) || null;

/** Forces one path (tests compare them, benchmarks time them); null restores the automatic choice. */
export function setAttentionPath(p: AttentionPath | null): void {
  forcedPath = p;
}

/** What the path choice needs to know of the adapter (AdapterReport has both). */
export interface AttentionAdapter { subgroupSize: number; isFallbackAdapter: boolean }

/**
 * The path attention() takes. Fused unless forced, beyond the kernel's key capacity, or on an adapter
 * without subgroups; and composed when a backward will follow and the head dim dwarfs the keys (2·Nk < D:
 * SILA's 22 words against 128+ channels): the fused backward recomputes the logits (Nq·Nk·D FMAs) where the
 * composed path keeps them (Nq·Nk floats). Measured on lavapipe for cross-attention 14,400 x 22 x 128
 * (bench/attention.ts): fused forward 1.1-1.3x faster, fused forward+backward 0.7-0.8x as fast.
 * On a hardware GPU a backward always goes composed: the fused kernels are built for llvmpipe (one subgroup
 * per workgroup, a lane's rows of logits in private arrays), which on an H200 spills and idles the SMs:
 * window attention 36x16x144x32 forward+backward fused 25.1 ms vs composed 3.75 ms (forward alone 1.69 vs 1.67).
 */
export function chooseAttentionPath(device: Tensor['device'], Nk: number, D: number, dtype: Tensor['dtype'], training: boolean,
  adapter: AttentionAdapter | null = device === 'webgpu' ? getRuntime().report : null): AttentionPath {
  if (forcedPath) return forcedPath;
  if (Nk > ATTENTION_MAX_KEYS || (dtype !== 'f32' && dtype !== 'f64')) return 'composed';
  if (adapter && adapter.subgroupSize === 0) return 'composed';
  if (training && 2 * Nk < D) return 'composed';
  if (training && adapter && !adapter.isFallbackAdapter) return 'composed';
  return 'fused';
}

/** Whether autograd will record this call (some input requires grad and grad mode is on). */
const recording = (ts: (Tensor | null)[]) => isGradEnabled() && ts.some((t) => t?.requiresGrad);

// ---- validation ----------------------------------------------------------------------------------------
interface Checked { p: AttentionPlan; bias: Tensor | null; mask: Tensor | null }

function as4d(op: string, name: string, t: Tensor | null | undefined, target: readonly number[]): Tensor | null {
  if (!t) return null;
  if (t.rank > 4) throw new Error(`${op}: ${name} ${shapeStr(t.shape)} has more than 4 dims`);
  const t4 = t.rank < 4 ? reshape(t, [...Array(4 - t.rank).fill(1), ...t.shape]) : t;
  const s = t4.shape;
  const ok = s[0]! > 0 && target[0]! % s[0]! === 0 && [1, 2, 3].every((d) => s[d] === 1 || s[d] === target[d]);
  if (!ok) {
    throw new Error(`${op}: ${name} ${shapeStr(t.shape)} does not broadcast to logits ${shapeStr(target)} ` +
      '(dims must be 1 or equal; the batch dim may also divide B)');
  }
  if (t4.dtype !== 'f32' && t4.dtype !== 'f64') throw new Error(`${op}: ${name} must be a float tensor, found ${t4.dtype}`);
  return t4;
}

function check(op: string, q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions): Checked {
  sameDevice(op, q, k, v, ...(o.bias ? [o.bias] : []), ...(o.mask ? [o.mask] : []));
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) {
    throw new Error(`${op}: expects q (B, H, Nq, D), k (B, H, Nk, D), v (B, H, Nk, Dv), found ${shapeStr(q.shape)}, ${shapeStr(k.shape)}, ${shapeStr(v.shape)}`);
  }
  const [B, H, Nq, D] = q.shape as [number, number, number, number];
  const [, , Nk, Dv] = v.shape as [number, number, number, number];
  const bad = k.shape[0] !== B || k.shape[1] !== H || k.shape[3] !== D || v.shape[0] !== B || v.shape[1] !== H || v.shape[2] !== k.shape[2];
  if (bad || Nk === 0 || D === 0 || Nq === 0 || B * H === 0) {
    throw new Error(`${op}: shapes q ${shapeStr(q.shape)}, k ${shapeStr(k.shape)}, v ${shapeStr(v.shape)} do not match`);
  }
  if (q.dtype !== k.dtype || q.dtype !== v.dtype || (q.dtype !== 'f32' && q.dtype !== 'f64')) {
    throw new Error(`${op}: q, k, v must share a float dtype, found ${q.dtype}, ${k.dtype}, ${v.dtype}`);
  }
  const target = [B, H, Nq, Nk];
  const bias = as4d(op, 'bias', o.bias, target);
  const mask = as4d(op, 'mask', o.mask, target);
  for (const t of [bias, mask]) if (t && t.dtype !== q.dtype) throw new Error(`${op}: bias/mask dtype ${t.dtype} differs from q's ${q.dtype}`);
  return { p: { B, H, Nq, Nk, D, Dv, scale: o.scale ?? 1 / Math.sqrt(D) }, bias, mask };
}

/** Strides of an additive operand over the logits: 0 on broadcast dims of size 1. */
const addStrides = (t: Tensor) => t.shape.map((s, d) => (s === 1 ? 0 : t.strides[d]!));

// ---- fused path ----------------------------------------------------------------------------------------
const op4 = (t: Tensor): Operand4 => ({ data: t.storage.cpu!, offset: t.offset, strides: t.strides });
const add4 = (t: Tensor | null): Operand4 | null => t && { data: t.storage.cpu!, offset: t.offset, strides: addStrides(t), shape: t.shape };
const arg = (t: Tensor) => ({ t, strides: t.strides });
const addArg = (t: Tensor | null) => t && { t, strides: addStrides(t), shape: t.shape };

interface FusedAttrs { p: AttentionPlan; hasBias: boolean; hasMask: boolean }
const pendingLse = new WeakMap<Tensor, Tensor>();

function fusedForward(xs: Tensor[], a: FusedAttrs): Tensor {
  const [q, k, v] = xs as [Tensor, Tensor, Tensor];
  const bias = a.hasBias ? xs[3]! : null;
  const mask = a.hasMask ? xs[a.hasBias ? 4 : 3]! : null;
  const { B, H, Nq, Dv } = a.p;
  // O is stored (B, Nq, H, Dv) and returned as a (B, H, Nq, Dv) view: merging heads back to (B, Nq, H·Dv),
  // what every caller does next, is then free.
  const store = empty([B, Nq, H, Dv], q.dtype, q.device);
  const oStrides = [store.strides[0]!, store.strides[2]!, store.strides[1]!, 1];
  const lse = empty([B, H, Nq], q.dtype, q.device);
  if (q.device === 'cpu') {
    attentionForwardCpu(a.p, op4(q), op4(k), op4(v), add4(bias), add4(mask), store.storage.cpu!, oStrides, lse.storage.cpu!);
  } else {
    // Past the binding limit (Swin-B stage 1 at batch 8: a 177 MB qkv), pieces of whole bias/mask periods of
    // the batch, each bound through windows (split.ts); batch indices restart at 0 in each piece.
    const S = getRuntime().report.subgroupSize;
    splitForBinding('attention', store, [q, k, v, lse, bias, mask], batchAlign(a.p.B, mask), (o, [qo, ko, vo, lo, bo, mo]) => {
      attentionForwardWgsl({ ...a.p, B: o.shape[0]! }, S, arg(qo!), arg(ko!), arg(vo!), addArg(bo), addArg(mo), o,
        [o.strides[0]!, o.strides[2]!, o.strides[1]!, 1], lo!);
    }, { maxDim: 1, multiple: period(bias, mask, a.p.B) });
  }
  const out = store.view([B, H, Nq, Dv], oStrides, 0);
  store.dispose();
  pendingLse.set(out, lse);
  return out;
}

/** A mask with one slice per batch (key padding) is narrowed with the batch; a periodic one stays whole. */
const perBatch = (t: Tensor | null, B: number): boolean => !!t && B > 1 && t.shape[0] === B;

/**
 * Batch dim 0 of the output runs along dim 0 of q, k, v, lse (inputs 0-3), and of a per-batch mask (input 5);
 * the bias and a periodic mask stay whole.
 */
const batchAlign = (B: number, mask: Tensor | null) => (i: number, d: number) =>
  d === 0 && (i < 4 || (i === 5 && perBatch(mask, B))) ? 0 : null;

const gcd = (x: number, y: number): number => (y ? gcd(y, x % y) : x);

/**
 * Batch pieces start at multiples of the additive operands' batch periods (b mod period indexing); the bias's
 * period counts even when it is B (its gradient is summed per period slot), a per-batch mask's does not.
 */
function period(bias: Tensor | null, mask: Tensor | null, B: number): number {
  const pb = bias?.shape[0] ?? 1;
  const pm = perBatch(mask, B) ? 1 : mask?.shape[0] ?? 1;
  return (pb * pm) / gcd(pb, pm);
}

let chunkBytesOverride: number | null = null;

/** Caps the backward's P/dS chunk in bytes (tests exercise the chunked path with it); null: the adapter's limit. */
export function setAttentionChunkBytes(bytes: number | null): void {
  chunkBytesOverride = bytes;
}

/** Batches per backward chunk: P and dS (nB, H, Nq, Nk) must fit one binding; whole periods of the bias. */
function chunkBatches(p: AttentionPlan, device: Tensor['device'], biasPeriod: number): number {
  if (device === 'cpu' && chunkBytesOverride === null) return p.B;
  const limit = chunkBytesOverride ?? Math.min(getRuntime().maxBindingBytes, 256 << 20);
  const perBatch = p.H * p.Nq * p.Nk * 4;
  const n = Math.max(1, Math.floor(limit / perBatch / biasPeriod)) * biasPeriod;
  return Math.min(p.B, n);
}

const sliceBatch = (t: Tensor, b0: number, n: number) => t.view([n, ...t.shape.slice(1)], t.strides, t.offset + b0 * t.strides[0]!);

/** Where the backward writes dQ, dK, dV: views into one packed gradient (attentionPacked), or null. */
interface GradTargets { dq: Tensor; dk: Tensor; dv: Tensor }

/** Gradients [dq, dk, dv, dBias | null]; with targets, dq/dk/dv are written into them and returned null. */
function fusedBackward(q: Tensor, k: Tensor, v: Tensor, lse: Tensor, bias: Tensor | null, mask: Tensor | null, a: FusedAttrs,
  g: Tensor, biasNeedsGrad: boolean, targets: GradTargets | null): (Tensor | null)[] {
  const p = a.p;
  const dev = q.device;
  const dq = targets?.dq ?? empty([p.B, p.H, p.Nq, p.D], q.dtype, dev);
  const biasPeriod = bias ? bias.shape[0]! : 1;
  // On webgpu a chunk's q, k, v, g, lse, dq are narrowed to it (batch indices restart at 0), so chunks hold
  // whole periods of bias and mask, and shrink until those views fit a binding too.
  const step = dev === 'webgpu' ? period(bias, mask, p.B) : biasPeriod;
  let nChunk = chunkBatches(p, dev, step);
  const narrowed = (b0: number, n: number) => [q, k, v, g, lse, dq, ...(perBatch(mask, p.B) ? [mask!] : [])].map((t) => sliceBatch(t, b0, n));
  while (dev === 'webgpu' && nChunk > step) {
    const views = narrowed(0, nChunk);
    const ok = fitsBinding(views);
    views.forEach((t) => t.dispose());
    if (ok) break;
    nChunk = Math.max(step, Math.ceil(nChunk / 2 / step) * step);
  }
  const chunked = nChunk < p.B;
  const dk = targets?.dk ?? (chunked ? empty([p.B, p.H, p.Nk, p.D], q.dtype, dev) : null);
  const dv = targets?.dv ?? (chunked ? empty([p.B, p.H, p.Nk, p.Dv], q.dtype, dev) : null);
  let dkOut: Tensor | null = dk;
  let dvOut: Tensor | null = dv;
  let dBias: Tensor | null = null;
  for (let b0 = 0; b0 < p.B; b0 += nChunk) {
    const nB = Math.min(nChunk, p.B - b0);
    // Pᵀ and scale·dSᵀ (nB, H, Nk, Nq); dS summed per bias period slot when the bias needs a gradient.
    const Pt = empty([nB, p.H, p.Nk, p.Nq], q.dtype, dev);
    const dSt = empty([nB, p.H, p.Nk, p.Nq], q.dtype, dev);
    const db = bias && biasNeedsGrad ? empty([biasPeriod, p.H, p.Nq, p.Nk], q.dtype, dev) : null;
    if (dev === 'cpu') {
      attentionBackwardRowsCpu(p, op4(q), op4(k), op4(v), op4(g), add4(bias), add4(mask), lse.storage.cpu!, b0, nB,
        op4(dq), Pt.storage.cpu!, dSt.storage.cpu!, db?.storage.cpu ?? null);
    } else {
      // The chunk's views, bound through windows where their buffers exceed the binding limit (split.ts).
      const views = narrowed(b0, nB);
      const maskView = perBatch(mask, p.B) ? views[6]! : mask;
      splitForBinding('attention_backward', Pt, [...views.slice(0, 6), bias, maskView, dSt, db], () => null, (Po, [qo, ko, vo, go, lo, dqo, bo, mo, dSo, dbo]) => {
        attentionBackwardRowsWgsl({ ...p, B: nB }, getRuntime().report.subgroupSize, arg(qo!), arg(ko!), arg(vo!), arg(go!), lo!,
          addArg(bo), addArg(mo), 0, nB, arg(dqo!), Po, dSo!, dbo);
      }, { maxDim: 0 });
      views.forEach((t) => t.dispose());
    }
    // dV = Pᵀ dO and dK = (scale dSᵀ) q: batched products the tuned matmul already does well.
    const dvc = matmulKernel(Pt, sliceBatch(g, b0, nB));
    const dkc = matmulKernel(dSt, sliceBatch(q, b0, nB));
    if (dk && dv) {
      copyInto(dvc, sliceBatch(dv, b0, nB));
      copyInto(dkc, sliceBatch(dk, b0, nB));
    } else {
      dvOut = dvc;
      dkOut = dkc;
    }
    if (db) {
      // The kernel summed over batch periods; now over the bias's broadcast head/query dims.
      const part = sumTo(db, bias!.shape);
      dBias = dBias ? add(dBias, part) : part;
    }
  }
  return targets ? [null, null, null, dBias] : [dq, dkOut, dvOut, dBias];
}

function additives(xs: Tensor[], a: FusedAttrs, first: number): [Tensor | null, Tensor | null] {
  return [a.hasBias ? xs[first]! : null, a.hasMask ? xs[first + (a.hasBias ? 1 : 0)]! : null];
}

const attentionFn: FunctionDef<FusedAttrs> = {
  name: 'attention',
  forward: fusedForward,
  setupContext: (ctx, xs, a, out) => {
    ctx.attrs = a;
    ctx.saveForBackward(xs[0]!, xs[1]!, xs[2]!, pendingLse.get(out)!, ...xs.slice(3));
  },
  backward: (ctx, g) => {
    const a = ctx.attrs as FusedAttrs;
    const [q, k, v, lse] = ctx.savedTensors as [Tensor, Tensor, Tensor, Tensor];
    const [bias, mask] = additives(ctx.savedTensors, a, 4);
    const [dq, dk, dv, dBias] = fusedBackward(q, k, v, lse, bias, mask, a, g, !!bias && ctx.needsInputGrad[3]!, null);
    return [dq!, dk!, dv!, ...(bias ? [dBias] : []), ...(mask ? [null] : [])];
  },
};

// ---- packed q, k, v ------------------------------------------------------------------------------------
/** q, k, v (B, H, N, Dh) as strided views of a packed projection (B, N, 3·H·Dh) (q block, k block, v block). */
function packedViews(qkv: Tensor, heads: number): [Tensor, Tensor, Tensor] {
  const [B, N, C3] = qkv.shape as [number, number, number];
  const C = C3 / 3;
  const Dh = C / heads;
  const [s0, s1, s2] = qkv.strides as [number, number, number];
  const shape = [B, heads, N, Dh];
  const strides = [s0, Dh * s2, s1, s2];
  return [0, 1, 2].map((i) => qkv.view(shape, strides, qkv.offset + i * C * s2)) as [Tensor, Tensor, Tensor];
}

const packedFn: FunctionDef<FusedAttrs & { heads: number }> = {
  name: 'attention',
  forward: (xs, a) => {
    const views = packedViews(xs[0]!, a.heads);
    try {
      return fusedForward([...views, ...xs.slice(1)], a);
    } finally {
      for (const t of views) t.dispose();
    }
  },
  setupContext: (ctx, xs, a, out) => {
    ctx.attrs = a;
    ctx.saveForBackward(xs[0]!, pendingLse.get(out)!, ...xs.slice(1));
  },
  backward: (ctx, g) => {
    const a = ctx.attrs as FusedAttrs & { heads: number };
    const [qkv, lse] = ctx.savedTensors as [Tensor, Tensor];
    const [bias, mask] = additives(ctx.savedTensors, a, 2);
    // One (B, N, 3C) gradient: dQ is written into its q block by the row kernel, dK and dV copied into theirs.
    const dqkv = empty(qkv.shape, qkv.dtype, qkv.device);
    const [dq, dk, dv] = packedViews(dqkv, a.heads);
    const [q, k, v] = packedViews(qkv, a.heads);
    const [, , , dBias] = fusedBackward(q, k, v, lse, bias, mask, a, g, !!bias && ctx.needsInputGrad[1]!, { dq, dk, dv });
    return [dqkv, ...(bias ? [dBias] : []), ...(mask ? [null] : [])];
  },
};

/**
 * Self-attention on a packed projection qkv (B, N, 3·C), laid out as torch's qkv Linear output viewed
 * (B, N, 3, H, C/H) (Swin's WindowAttention): returns (B, H, N, C/H) like attention() on the split heads. q, k
 * and v are read in place, and their gradients land in one (B, N, 3C) tensor; splitting by slices instead
 * makes three full-size zero-filled gradients that autograd then sums.
 */
export function attentionPacked(qkv: Tensor, heads: number, opts: AttentionOptions = {}): Tensor {
  if (qkv.rank !== 3 || qkv.shape[2]! % (3 * heads)) {
    throw new Error(`attentionPacked: expects qkv (B, N, 3·C) with C divisible by ${heads} heads, found ${shapeStr(qkv.shape)}`);
  }
  const [q, k, v] = packedViews(qkv, heads);
  try {
    const { p, bias, mask } = check('attentionPacked', q, k, v, opts);
    if (opts.dropout || chooseAttentionPath(q.device, p.Nk, p.D, q.dtype, recording([qkv, bias])) === 'composed') {
      const [B, N] = qkv.shape as [number, number];
      const t = permute(reshape(qkv, [B, N, 3, heads, p.D]), [2, 0, 3, 1, 4]);
      const [qs, ks, vs] = [0, 1, 2].map((i) => reshape(slice(t, 0, i, i + 1), [B, heads, N, p.D]));
      return attentionComposed(qs!, ks!, vs!, opts);
    }
    const inputs = [qkv, ...(bias ? [bias] : []), ...(mask ? [mask] : [])];
    const out = apply(packedFn, inputs, { p, hasBias: !!bias, hasMask: !!mask, heads });
    pendingLse.get(out)?.dispose();
    pendingLse.delete(out);
    return out;
  } finally {
    for (const t of [q, k, v]) t.dispose();
  }
}

// ---- composed path -------------------------------------------------------------------------------------
/** x (B, H, Nq, Nk) + t (P, ...) with t's batch dim P dividing B: view x as (B/P, P, H, Nq, Nk). */
function periodic(x: Tensor, t: Tensor, f: (x5: Tensor, t: Tensor) => Tensor): Tensor {
  const [B, H, Nq, Nk] = x.shape as [number, number, number, number];
  const P = t.shape[0]!;
  if (P === 1 || P === B) return f(x, t);
  return reshape(f(reshape(x, [B / P, P, H, Nq, Nk]), t), [B, H, Nq, Nk]);
}

/**
 * The reference path: matmul, scale, + bias, softmax with the mask, (dropout), matmul. Same contract as
 * attention(), except that a mask which requires grad gets one here (softmax's mask gradient).
 */
export function attentionComposed(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const { p, bias, mask } = check('attention', q, k, v, opts);
  let s = mul(matmul(q, transpose(k, -1, -2)), p.scale);
  if (bias) s = periodic(s, bias, add);
  let probs = mask ? periodic(s, mask, (x, m) => softmax(x, m)) : softmax(s);
  if (opts.dropout) probs = dropout(probs, opts.dropout, true, opts.generator ?? defaultGenerator);
  return matmul(probs, v);
}

/** Scaled dot-product attention, (B, H, Nq, D) x (B, H, Nk, D) x (B, H, Nk, Dv) -> (B, H, Nq, Dv). */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const { p, bias, mask } = check('attention', q, k, v, opts);
  if (opts.dropout || chooseAttentionPath(q.device, p.Nk, p.D, q.dtype, recording([q, k, v, bias])) === 'composed') {
    return attentionComposed(q, k, v, opts);
  }
  const inputs = [q, k, v, ...(bias ? [bias] : []), ...(mask ? [mask] : [])];
  const out = apply(attentionFn, inputs, { p, hasBias: !!bias, hasMask: !!mask });
  // The forward's logsumexp: setupContext kept a view when a graph was recorded; drop the original.
  pendingLse.get(out)?.dispose();
  pendingLse.delete(out);
  return out;
}

/** torch.nn.functional.scaled_dot_product_attention's name for the same op (attnMask is additive, no grad). */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, o: { attnMask?: Tensor | null; scale?: number } = {}): Tensor {
  return attention(q, k, v, { mask: o.attnMask, scale: o.scale });
}

/** (B, N, H·Dh) -> (B, H, N, Dh), a view. */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const [B, N, C] = x.shape as [number, number, number];
  if (x.rank !== 3 || C % heads) throw new Error(`splitHeads: ${shapeStr(x.shape)} does not split into ${heads} heads`);
  return permute(reshape(x, [B, N, heads, C / heads]), [0, 2, 1, 3]);
}

/** (B, H, N, Dh) -> (B, N, H·Dh); free on attention()'s output, a copy otherwise. */
export function mergeHeads(x: Tensor): Tensor {
  const [B, H, N, Dh] = x.shape as [number, number, number, number];
  return reshape(permute(x, [0, 2, 1, 3]), [B, N, H * Dh]);
}
