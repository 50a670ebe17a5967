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
// and the composed path (matmul, softmax-with-mask, matmul), which is the test oracle and the fallback for
// adapters without subgroups and for more than ATTENTION_MAX_KEYS keys.
import { apply, type FunctionDef } from '../../tensor/autograd.ts';
import { shapeStr } from '../../tensor/shape.ts';
import { empty, type Tensor } from '../../tensor/tensor.ts';
import { getRuntime } from '../../runtime/device.ts';
import { copyInto, permute, reshape, transpose } from '../movement/movement.op.ts';
import { matmul, matmulKernel } from '../matmul/matmul.op.ts';
import { softmax } from '../softmax/softmax.op.ts';
import { add, ewKernel, mul } from '../elementwise/elementwise.op.ts';
import { reduceKernel, sumTo } from '../reduce/reduce.op.ts';
import { sameDevice } from '../common.ts';
import { attentionBackwardRowsCpu, attentionForwardCpu, type AttentionPlan, type Operand4 } from './attention.cpu.ts';
import { ATTENTION_MAX_KEYS, attentionBackwardRowsWgsl, attentionForwardWgsl } from './attention.wgsl.ts';

export interface AttentionOptions {
  /** Multiplies q·kᵀ; default 1/sqrt(D). */
  scale?: number;
  /** Additive logits bias, broadcastable (batch dim: or a divisor of B); receives a gradient. */
  bias?: Tensor | null;
  /** Additive logits mask, same broadcasting as bias; no gradient. */
  mask?: Tensor | null;
}

export type AttentionPath = 'fused' | 'composed';
let forcedPath: AttentionPath | null = (process.env.FIANET_ATTENTION as AttentionPath) || null;

/** Forces one path (tests compare them, benchmarks time them); null restores the automatic choice. */
export function setAttentionPath(p: AttentionPath | null): void {
  forcedPath = p;
}

/** The path attention() takes for k of Nk keys on this device. */
export function chooseAttentionPath(device: Tensor['device'], Nk: number, dtype: Tensor['dtype']): AttentionPath {
  if (forcedPath) return forcedPath;
  if (Nk > ATTENTION_MAX_KEYS || (dtype !== 'f32' && dtype !== 'f64')) return 'composed';
  if (device === 'webgpu' && getRuntime().report.subgroupSize === 0) return 'composed';
  return 'fused';
}

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
  if (bad || Nk === 0 || D === 0) {
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
    attentionForwardWgsl(a.p, getRuntime().report.subgroupSize, arg(q), arg(k), arg(v), addArg(bias), addArg(mask), store, oStrides, lse);
  }
  const out = store.view([B, H, Nq, Dv], oStrides, 0);
  store.dispose();
  pendingLse.set(out, lse);
  return out;
}

/** Batches per backward chunk: P and dS (nB, H, Nq, Nk) must fit one binding; whole periods of the bias. */
function chunkBatches(p: AttentionPlan, device: Tensor['device'], biasPeriod: number): number {
  if (device === 'cpu') return p.B;
  const limit = Math.min(getRuntime().maxBindingBytes, 256 << 20);
  const perBatch = p.H * p.Nq * p.Nk * 4;
  const n = Math.max(1, Math.floor(limit / perBatch / biasPeriod)) * biasPeriod;
  return Math.min(p.B, n);
}

const sliceBatch = (t: Tensor, b0: number, n: number) => t.view([n, ...t.shape.slice(1)], t.strides, t.offset + b0 * t.strides[0]!);

function fusedBackward(saved: Tensor[], a: FusedAttrs, g: Tensor, needs: readonly boolean[]): (Tensor | null)[] {
  const [q, k, v, lse] = saved as [Tensor, Tensor, Tensor, Tensor];
  const bias = a.hasBias ? saved[4]! : null;
  const mask = a.hasMask ? saved[a.hasBias ? 5 : 4]! : null;
  const p = a.p;
  const dev = q.device;
  const period = bias ? bias.shape[0]! : 1;
  const nChunk = chunkBatches(p, dev, period);
  const dq = empty([p.B, p.H, p.Nq, p.D], q.dtype, dev);
  const dk = nChunk < p.B ? empty([p.B, p.H, p.Nk, p.D], q.dtype, dev) : null;
  const dv = nChunk < p.B ? empty([p.B, p.H, p.Nk, p.Dv], q.dtype, dev) : null;
  let dkOut: Tensor | null = dk;
  let dvOut: Tensor | null = dv;
  let dBias: Tensor | null = null;
  for (let b0 = 0; b0 < p.B; b0 += nChunk) {
    const nB = Math.min(nChunk, p.B - b0);
    const P = empty([nB, p.H, p.Nq, p.Nk], q.dtype, dev);
    const dS = empty([nB, p.H, p.Nq, p.Nk], q.dtype, dev);
    if (dev === 'cpu') {
      attentionBackwardRowsCpu(p, op4(q), op4(k), op4(v), op4(g), add4(bias), add4(mask), lse.storage.cpu!, b0, nB,
        dq.storage.cpu!, P.storage.cpu!, dS.storage.cpu!);
    } else {
      attentionBackwardRowsWgsl(p, getRuntime().report.subgroupSize, arg(q), arg(k), arg(v), arg(g), lse, addArg(bias), addArg(mask),
        b0, nB, dq, P, dS);
    }
    // dV = Pᵀ dO and dK = scale dSᵀ q: batched products the tuned matmul already does well.
    const dvc = matmulKernel(transpose(P, -1, -2), sliceBatch(g, b0, nB));
    const dkc = ewKernel('muls', [matmulKernel(transpose(dS, -1, -2), sliceBatch(q, b0, nB))], p.scale);
    if (dk && dv) {
      copyInto(dvc, sliceBatch(dv, b0, nB));
      copyInto(dkc, sliceBatch(dk, b0, nB));
    } else {
      dvOut = dvc;
      dkOut = dkc;
    }
    if (bias && needs[3]) {
      // Sum dS over the batch periods, then over the bias's broadcast dims.
      const periods = reshape(dS, [nB / period, period, p.H, p.Nq, p.Nk]);
      const part = sumTo(reduceKernel('sum', periods, [0], false), bias.shape);
      dBias = dBias ? add(dBias, part) : part;
    }
  }
  return [dq, dkOut, dvOut, ...(bias ? [dBias] : []), ...(mask ? [null] : [])];
}

const attentionFn: FunctionDef<FusedAttrs> = {
  name: 'attention',
  forward: fusedForward,
  setupContext: (ctx, xs, a, out) => {
    ctx.attrs = a;
    ctx.saveForBackward(xs[0]!, xs[1]!, xs[2]!, pendingLse.get(out)!, ...xs.slice(3));
  },
  backward: (ctx, g) => fusedBackward(ctx.savedTensors, ctx.attrs as FusedAttrs, g, ctx.needsInputGrad),
};

// ---- composed path -------------------------------------------------------------------------------------
/** x (B, H, Nq, Nk) + t (P, ...) with t's batch dim P dividing B: view x as (B/P, P, H, Nq, Nk). */
function periodic(x: Tensor, t: Tensor, f: (x5: Tensor, t: Tensor) => Tensor): Tensor {
  const [B, H, Nq, Nk] = x.shape as [number, number, number, number];
  const P = t.shape[0]!;
  if (P === 1 || P === B) return f(x, t);
  return reshape(f(reshape(x, [B / P, P, H, Nq, Nk]), t), [B, H, Nq, Nk]);
}

/** The reference path: matmul, scale, + bias, softmax with the mask, matmul. Same contract as attention(). */
export function attentionComposed(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const { p, bias, mask } = check('attention', q, k, v, opts);
  let s = mul(matmul(q, transpose(k, -1, -2)), p.scale);
  if (bias) s = periodic(s, bias, add);
  const probs = mask ? periodic(s, mask.detach(), (x, m) => softmax(x, m)) : softmax(s);
  return matmul(probs, v);
}

/** Scaled dot-product attention, (B, H, Nq, D) x (B, H, Nk, D) x (B, H, Nk, Dv) -> (B, H, Nq, Dv). */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const { p, bias, mask } = check('attention', q, k, v, opts);
  if (chooseAttentionPath(q.device, p.Nk, q.dtype) === 'composed') return attentionComposed(q, k, v, opts);
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
