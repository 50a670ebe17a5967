// CPU reference for fused scaled dot-product attention, and the row pass of its backward. It mirrors the
// WGSL kernels' contract exactly (same plan, same saved logsumexp, same P/dS outputs), works on any
// TypedArray (Float64Array for gradcheck), and accumulates in float64.
//
// Logits: s[b,h,i,j] = scale * q[b,h,i,:]·k[b,h,j,:] + bias[b % bS0, h, i, j] + mask[b % mS0, h, i, j].
// The additive operands are read through 4-D (shape, strides, offset) descriptors: dims 1..3 are 1 (stride 0)
// or full, and the batch dim may be a divisor of B, read as b mod shape[0] (Swin: windows live in the batch
// dim as B·nW, and the shift mask (nW, 1, N, N) repeats per image).
import type { TypedArray } from '../../tensor/dtype.ts';

/** A strided 4-D operand: element (a, b, c, d) at offset + a*s0 + b*s1 + c*s2 + d*s3. */
export interface Operand4 {
  data: TypedArray;
  offset: number;
  strides: readonly number[];
  /** Only additive operands: their shape, dims of 1 or divisors of (B, H, Nq, Nk). */
  shape?: readonly number[];
}

export interface AttentionPlan {
  B: number;
  H: number;
  Nq: number;
  Nk: number;
  D: number;
  Dv: number;
  scale: number;
}

function addOffset(o: Operand4, b: number, h: number, i: number): number {
  const sh = o.shape!;
  return o.offset + (b % sh[0]!) * o.strides[0]! + (h % sh[1]!) * o.strides[1]! + (i % sh[2]!) * o.strides[2]!;
}

/** Logits of one query row into s (length Nk). */
function logitsRow(p: AttentionPlan, q: Operand4, k: Operand4, bias: Operand4 | null, mask: Operand4 | null,
  b: number, h: number, i: number, s: Float64Array): void {
  const qb = q.offset + b * q.strides[0]! + h * q.strides[1]! + i * q.strides[2]!;
  const kb = k.offset + b * k.strides[0]! + h * k.strides[1]!;
  const bb = bias ? addOffset(bias, b, h, i) : 0;
  const mb = mask ? addOffset(mask, b, h, i) : 0;
  for (let j = 0; j < p.Nk; j++) {
    const kr = kb + j * k.strides[2]!;
    let acc = 0;
    for (let d = 0; d < p.D; d++) acc += q.data[qb + d * q.strides[3]!]! * k.data[kr + d * k.strides[3]!]!;
    let v = acc * p.scale;
    if (bias) v += bias.data[bb + j * bias.strides[3]!]!;
    if (mask) v += mask.data[mb + j * mask.strides[3]!]!;
    s[j] = v;
  }
}

/**
 * Forward: out[b,h,i,:] = softmax_j(s) · v, written through outStrides (4-D) at outOffset; lse (B, H, Nq)
 * contiguous receives each row's logsumexp, which is all the backward needs to rebuild P.
 */
export function attentionForwardCpu(p: AttentionPlan, q: Operand4, k: Operand4, v: Operand4, bias: Operand4 | null,
  mask: Operand4 | null, out: TypedArray, outStrides: readonly number[], lse: TypedArray): void {
  const s = new Float64Array(p.Nk);
  const o = new Float64Array(p.Dv);
  for (let b = 0; b < p.B; b++) {
    for (let h = 0; h < p.H; h++) {
      const vb = v.offset + b * v.strides[0]! + h * v.strides[1]!;
      for (let i = 0; i < p.Nq; i++) {
        logitsRow(p, q, k, bias, mask, b, h, i, s);
        let m = -Infinity;
        for (let j = 0; j < p.Nk; j++) m = Math.max(m, s[j]!);
        let l = 0;
        for (let j = 0; j < p.Nk; j++) l += (s[j] = Math.exp(s[j]! - m));
        o.fill(0);
        for (let j = 0; j < p.Nk; j++) {
          const vr = vb + j * v.strides[2]!;
          const w = s[j]! / l;
          for (let d = 0; d < p.Dv; d++) o[d] += w * v.data[vr + d * v.strides[3]!]!;
        }
        const ob = b * outStrides[0]! + h * outStrides[1]! + i * outStrides[2]!;
        for (let d = 0; d < p.Dv; d++) out[ob + d * outStrides[3]!] = o[d]!;
        lse[(b * p.H + h) * p.Nq + i] = m + Math.log(l);
      }
    }
  }
}

/**
 * Backward row pass over batches [b0, b0 + nB): rebuilds P = exp(s - lse), dP = dO·vᵀ, Di = Σ_j P dP,
 * dS = P (dP - Di); writes dQ = scale dS·k into dq (B, H, Nq, D) through its strides, and Pᵀ and scale·dSᵀ
 * for the chunk into (nB, H, Nk, Nq) contiguous buffers: dK = (scale dSᵀ)·q and dV = Pᵀ·dO are then plain
 * matmuls.
 * With dBias (period, H, Nq, Nk), period = bias.shape[0] dividing nB: writes the chunk's dS summed per
 * batch period slot (b mod period).
 */
export function attentionBackwardRowsCpu(p: AttentionPlan, q: Operand4, k: Operand4, v: Operand4, g: Operand4,
  bias: Operand4 | null, mask: Operand4 | null, lse: TypedArray, b0: number, nB: number,
  dq: Operand4, P: TypedArray, dS: TypedArray, dBias: TypedArray | null = null): void {
  const per = bias?.shape?.[0] ?? 1;
  const db = dBias ? new Float64Array(per * p.H * p.Nq * p.Nk) : null;
  const s = new Float64Array(p.Nk);
  const dp = new Float64Array(p.Nk);
  for (let b = b0; b < b0 + nB; b++) {
    for (let h = 0; h < p.H; h++) {
      const vb = v.offset + b * v.strides[0]! + h * v.strides[1]!;
      const kb = k.offset + b * k.strides[0]! + h * k.strides[1]!;
      for (let i = 0; i < p.Nq; i++) {
        logitsRow(p, q, k, bias, mask, b, h, i, s);
        const gb = g.offset + b * g.strides[0]! + h * g.strides[1]! + i * g.strides[2]!;
        const ls = lse[(b * p.H + h) * p.Nq + i]!;
        let di = 0;
        for (let j = 0; j < p.Nk; j++) {
          const vr = vb + j * v.strides[2]!;
          let acc = 0;
          for (let d = 0; d < p.Dv; d++) acc += g.data[gb + d * g.strides[3]!]! * v.data[vr + d * v.strides[3]!]!;
          dp[j] = acc;
          s[j] = Math.exp(s[j]! - ls);
          di += s[j]! * acc;
        }
        const colL = ((b - b0) * p.H + h) * p.Nk * p.Nq + i;
        for (let j = 0; j < p.Nk; j++) {
          dp[j] = s[j]! * (dp[j]! - di);
          P[colL + j * p.Nq] = s[j]!;
          dS[colL + j * p.Nq] = dp[j]! * p.scale;
        }
        if (db) {
          const o = (((b % per) * p.H + h) * p.Nq + i) * p.Nk;
          for (let j = 0; j < p.Nk; j++) db[o + j] += dp[j]!;
        }
        const qo = dq.offset + b * dq.strides[0]! + h * dq.strides[1]! + i * dq.strides[2]!;
        for (let d = 0; d < p.D; d++) {
          let acc = 0;
          for (let j = 0; j < p.Nk; j++) acc += dp[j]! * k.data[kb + j * k.strides[2]! + d * k.strides[3]!]!;
          dq.data[qo + d * dq.strides[3]!] = acc * p.scale;
        }
      }
    }
  }
  if (dBias && db) dBias.set(db);
}
