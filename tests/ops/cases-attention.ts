// Cases for the attention family: the fused op on random and edge shapes (Nq = 1, odd Nk, D not a multiple
// of 4, D over several column chunks, strided q/k/v split from a packed qkv projection, attentionPacked, bias
// with and without gradient, bias shared over heads or periodic, masks broadcast over heads and queries or
// periodic over windows, 144-token windows), dropout on the composed path, and the Swin helpers.
import * as F from '../../src/index.ts';
import { attention as attentionAuto, attentionPacked, setAttentionPath, type AttentionOptions } from '../../src/kernels/attention/attention.op.ts';
import { relativePositionBias, windowPartition, windowReverse } from '../../src/kernels/attention/swin.ts';
import type { InputSpec, OpCase } from './harness.ts';

const cases: OpCase[] = [];
const add = (c: OpCase) => cases.push(c);
const noGrad = (shape: number[]): InputSpec => ({ shape, grad: false });

/** Runs fn on the fused path whatever the automatic choice (which sends some shapes composed). */
function fused<T>(fn: () => T): T {
  setAttentionPath('fused');
  try {
    return fn();
  } finally {
    setAttentionPath(null);
  }
}
function attention(q: F.Tensor, k: F.Tensor, v: F.Tensor, o: AttentionOptions = {}): F.Tensor {
  return o.dropout ? attentionAuto(q, k, v, o) : fused(() => attentionAuto(q, k, v, o));
}

add({ op: 'attention', label: 'plain 2x3x5x8, Nk 7', inputs: [{ shape: [2, 3, 5, 8] }, { shape: [2, 3, 7, 8] }, { shape: [2, 3, 7, 8] }],
  run: ([q, k, v]) => attention(q!, k!, v!) });
add({ op: 'attention', label: 'Nq 1, Nk 1', inputs: [{ shape: [1, 2, 1, 4] }, { shape: [1, 2, 1, 4] }, { shape: [1, 2, 1, 4] }],
  run: ([q, k, v]) => attention(q!, k!, v!) });
add({ op: 'attention', label: 'D 5 (not a multiple of 4), Dv 3, Nk 9, scale 0.7', inputs: [{ shape: [1, 2, 19, 5] }, { shape: [1, 2, 9, 5] }, { shape: [1, 2, 9, 3] }],
  run: ([q, k, v]) => attention(q!, k!, v!, { scale: 0.7 }) });
add({ op: 'attention', label: 'D 70 over three column chunks, 1 head', inputs: [{ shape: [2, 1, 11, 70] }, { shape: [2, 1, 6, 70] }, { shape: [2, 1, 6, 70] }],
  run: ([q, k, v]) => attention(q!, k!, v!, { scale: 0.05 }), tol: 5e-4 });
add({ op: 'attention', label: 'transposed (strided) q and v', inputs: [{ shape: [2, 2, 6, 4], transposed: true }, { shape: [2, 2, 4, 4] }, { shape: [2, 2, 4, 6], transposed: true }],
  run: ([q, k, v]) => attention(q!, k!, v!) });
add({ op: 'attention', label: 'heads split from packed qkv (B, N, 3C)', inputs: [{ shape: [2, 9, 3 * 12] }],
  run: ([qkv]) => {
    // (B, N, 3, H, Dh) -> (3, B, H, N, Dh): q, k, v are strided views into one buffer.
    const t = F.permute(F.reshape(qkv!, [2, 9, 3, 2, 6]), [2, 0, 3, 1, 4]);
    const [q, k, v] = [0, 1, 2].map((i) => F.squeeze(F.slice(t, 0, i, i + 1), 0));
    return attention(q!, k!, v!);
  } });
add({ op: 'attention', label: 'attentionPacked: qkv (B, N, 3C) transposed, bias and periodic mask', inputs: [{ shape: [4, 7, 3 * 8], transposed: true }, { shape: [2, 7, 7] }, noGrad([2, 1, 7, 7])],
  run: ([qkv, b, m]) => fused(() => attentionPacked(qkv!, 2, { bias: b, mask: m })) });
add({ op: 'attention', label: 'bias (H, Nq, Nk) with grad', inputs: [{ shape: [3, 2, 6, 4] }, { shape: [3, 2, 5, 4] }, { shape: [3, 2, 5, 4] }, { shape: [2, 6, 5] }],
  run: ([q, k, v, b]) => attention(q!, k!, v!, { bias: b }) });
add({ op: 'attention', label: 'key padding mask (B, 1, 1, Nk)', inputs: [{ shape: [2, 3, 4, 8] }, { shape: [2, 3, 7, 8] }, { shape: [2, 3, 7, 8] }, { shape: [2, 1, 1, 7], ints: 2 }],
  run: ([q, k, v, m]) => attention(q!, k!, v!, { mask: F.mul(F.sub(1, F.cast(m!, q!.dtype)), -10000) }) });
add({ op: 'attention', label: 'bias + periodic window mask (nW, 1, N, N) over B·nW', inputs: [{ shape: [6, 2, 9, 4] }, { shape: [6, 2, 9, 4] }, { shape: [6, 2, 9, 4] }, { shape: [2, 9, 9] }, noGrad([3, 1, 9, 9])],
  run: ([q, k, v, b, m]) => attention(q!, k!, v!, { bias: b, mask: m }) });
add({ op: 'attention', label: 'bias without grad (1, 1, Nq, Nk)', inputs: [{ shape: [2, 2, 5, 4] }, { shape: [2, 2, 6, 4] }, { shape: [2, 2, 6, 4] }, noGrad([1, 1, 5, 6])],
  run: ([q, k, v, b]) => attention(q!, k!, v!, { bias: b }) });
add({ op: 'attention', label: 'bias shared over heads (1, 1, Nq, Nk) with grad', inputs: [{ shape: [2, 3, 5, 4] }, { shape: [2, 3, 6, 4] }, { shape: [2, 3, 6, 4] }, { shape: [5, 6] }],
  run: ([q, k, v, b]) => attention(q!, k!, v!, { bias: b }) });
add({ op: 'attention', label: 'periodic bias (2, H, Nq, Nk) with grad', inputs: [{ shape: [4, 2, 3, 4] }, { shape: [4, 2, 5, 4] }, { shape: [4, 2, 5, 4] }, { shape: [2, 2, 3, 5] }],
  run: ([q, k, v, b]) => attention(q!, k!, v!, { bias: b }) });
add({ op: 'attention', label: 'cross-attention 37 queries x 22 words, 1 head of 40', inputs: [{ shape: [1, 1, 37, 40] }, { shape: [1, 1, 22, 40] }, { shape: [1, 1, 22, 40] }, { shape: [1, 1, 1, 22], ints: 2 }],
  run: ([q, k, v, m]) => attention(q!, k!, v!, { mask: F.mul(F.sub(F.cast(m!, q!.dtype), 1), 10000), scale: 0.1 }), gradcheck: false, tol: 5e-4 });
add({ op: 'attention', label: 'window 144 tokens, head dim 32 (cap 160)', inputs: [{ shape: [1, 1, 144, 32] }, { shape: [1, 1, 144, 32] }, { shape: [1, 1, 144, 32] }, { shape: [1, 144, 144] }],
  run: ([q, k, v, b]) => attention(q!, k!, v!, { bias: b }), gradcheck: false, tol: 5e-4 });
add({ op: 'attention', label: 'attention-probability dropout 0.3 (composed path)', inputs: [{ shape: [2, 2, 4, 8] }, { shape: [2, 2, 6, 8] }, { shape: [2, 2, 6, 8] }],
  run: ([q, k, v]) => attention(q!, k!, v!, { dropout: 0.3, generator: new F.Generator(7) }) });

// Swin helpers (compositions of views and the copy kernel; gradients come from those ops).
add({ op: 'windowPartition', label: '(2, 4, 6, 3) ws 2, round trip through reverse', inputs: [{ shape: [2, 4, 6, 3] }],
  run: ([x]) => F.mul(windowReverse(F.mul(windowPartition(x!, 2), 1), 2, 4, 6), 1) });
add({ op: 'relativePositionBias', label: 'table (9, 2) ws 2', inputs: [{ shape: [9, 2] }],
  run: ([t]) => {
    const idx = F.fromArray(Int32Array.from([0, 1, 3, 4, 2, 0, 5, 3, 6, 7, 0, 1, 8, 6, 2, 0]), [4, 4], { device: t!.device });
    return relativePositionBias(t!, idx);
  } });

export const CASES_ATTENTION: OpCase[] = cases;
