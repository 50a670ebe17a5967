// Attention benchmarks for `fianet bench`: the fused kernels against the composed path (matmul, softmax with
// mask, matmul) on FIANet's two attention shapes. `ms` is the fused forward; the other fields give the fused
// forward+backward and the composed path's figures, timed in the same run.
//   window_attention  Swin-B stage 3 at 480²: 36 windows (4 images × 9) × 16 heads, 144 tokens, head dim 32,
//                     relative-position bias (with gradient) and the shift mask.
//   cross_attention   SILA at stage 1: 14,400 pixel queries over 22 words, 1 head of 128 channels, word mask.
import * as F from '../src/index.ts';
import { attention, attentionPacked, setAttentionPath, type AttentionPath } from '../src/kernels/attention/attention.op.ts';
import type { BenchResult } from './engine.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Times several variants interleaved (one run of each per round, after one warm-up round) and returns each
 * one's median: on a shared machine, load drifts between rounds and interleaving keeps the ratios honest.
 */
async function timeInterleaved(fns: (() => void)[], reps: number, device: F.DeviceName): Promise<number[]> {
  const sync = async () => { if (device === 'webgpu') await F.getRuntime().sync(); };
  for (const fn of fns) { fn(); await sync(); }
  const times: number[][] = fns.map(() => []);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < fns.length; i++) {
      const t0 = performance.now();
      fns[i]!();
      await sync();
      times[i]!.push(performance.now() - t0);
    }
  }
  return times.map(median);
}

function rand(shape: number[], device: F.DeviceName, seed: number, grad = false, scale = 1): F.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const t = F.keep(F.fromArray(new F.Generator(seed).uniform(n, -scale, scale), shape, { device }));
  t.requiresGrad = grad;
  return t;
}

interface Problem { q: F.Tensor; k: F.Tensor; v: F.Tensor; bias: F.Tensor | null; mask: F.Tensor | null; g: F.Tensor }

async function timePaths(name: string, pr: Problem, device: F.DeviceName, reps: number, flops: number): Promise<BenchResult> {
  const leaves = [pr.q, pr.k, pr.v, ...(pr.bias ? [pr.bias] : [])];
  const run = (path: AttentionPath, backward: boolean) => () => F.scope(() => {
    setAttentionPath(path);
    try {
      const out = attention(pr.q, pr.k, pr.v, { bias: pr.bias, mask: pr.mask });
      if (backward) out.backward(pr.g);
    } finally {
      setAttentionPath(null);
    }
    for (const t of leaves) { t.grad?.dispose(); t.grad = null; }
  });
  const fwd = (path: AttentionPath) => () => F.noGrad(run(path, false));
  const [ms, fwdBwd, composed, composedFwdBwd] = await timeInterleaved(
    [fwd('fused'), run('fused', true), fwd('composed'), run('composed', true)], reps, device);
  for (const t of [...leaves, pr.g, ...(pr.mask ? [pr.mask] : [])]) t.dispose();
  return {
    bench: name, device, ms, gflops: flops / ms / 1e6,
    fwd_bwd_ms: fwdBwd, composed_ms: composed, composed_fwd_bwd_ms: composedFwdBwd,
    speedup_fwd: composed / ms, speedup_fwd_bwd: composedFwdBwd / fwdBwd,
  };
}

/**
 * WindowAttention's step from the qkv projection (B·nW, N, 3C): attentionPacked (q, k, v read in place, one
 * gradient tensor) against q, k, v split by reshape/permute/slice (three full-size slice gradients summed).
 */
async function packedVsSliced(device: F.DeviceName, BW: number, H: number, N: number, Dh: number): Promise<Record<string, number>> {
  const qkv = rand([BW, N, 3 * H * Dh], device, 7, true);
  const bias = rand([H, N, N], device, 8, true, 0.1);
  const g = rand([BW, H, N, Dh], device, 9);
  const step = (packed: boolean) => () => F.scope(() => {
    let out: F.Tensor;
    if (packed) out = attentionPacked(qkv, H, { bias });
    else {
      const t = F.permute(F.reshape(qkv, [BW, N, 3, H, Dh]), [2, 0, 3, 1, 4]);
      const [q, k, v] = [0, 1, 2].map((i) => F.squeeze(F.slice(t, 0, i, i + 1), 0));
      out = attention(q!, k!, v!, { bias });
    }
    out.backward(g);
    for (const t of [qkv, bias]) { t.grad?.dispose(); t.grad = null; }
  });
  const [packed, sliced] = await timeInterleaved([step(true), step(false)], 5, device);
  for (const t of [qkv, bias, g]) t.dispose();
  return { packed_qkv_fwd_bwd_ms: packed!, sliced_qkv_fwd_bwd_ms: sliced! };
}

export const ATTENTION_BENCHES: Record<string, (device: F.DeviceName) => Promise<BenchResult>> = {
  window_attention: async (d) => {
    const [BW, H, N, Dh, nW] = [36, 16, 144, 32, 9];
    const mask = F.keep(F.fromArray(new F.Generator(9).uniform(nW * N * N, 0, 1).map((x) => (x < 0.3 ? -100 : 0)), [nW, 1, N, N], { device: d }));
    const pr: Problem = {
      q: rand([BW, H, N, Dh], d, 1, true), k: rand([BW, H, N, Dh], d, 2, true), v: rand([BW, H, N, Dh], d, 3, true),
      bias: rand([H, N, N], d, 4, true, 0.1), mask, g: rand([BW, H, N, Dh], d, 5),
    };
    const res = await timePaths('window_attention', pr, d, 5, 2 * 2 * BW * H * N * N * Dh);
    return { ...res, ...(await packedVsSliced(d, BW, H, N, Dh)) };
  },
  cross_attention: async (d) => {
    const [Nq, L, C] = [14400, 22, 128];
    const words = new Float32Array(L).map((_, i) => (i < 15 ? 0 : -10000));
    const pr: Problem = {
      q: rand([1, 1, Nq, C], d, 1, true), k: rand([1, 1, L, C], d, 2, true), v: rand([1, 1, L, C], d, 3, true),
      bias: null, mask: F.keep(F.fromArray(words, [1, 1, 1, L], { device: d })), g: rand([1, 1, Nq, C], d, 5),
    };
    return timePaths('cross_attention', pr, d, 5, 2 * 2 * Nq * L * C);
  },
};
