// Benchmarks of the norm and resample families for `fianet bench`: medians of repeated runs after warm-up,
// timed around a queue sync (so they include dispatch and submit overhead), as bench/engine.ts does.
import * as F from '../src/index.ts';
import { timeIt, type BenchResult } from './engine.ts';
import { layerNorm } from '../src/kernels/norm/norm.op.ts';
import { interpolate } from '../src/kernels/resample/resample.op.ts';


function uniform(shape: number[], device: F.DeviceName, seed: number, requiresGrad = false): F.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return F.keep(F.fromArray(new F.Generator(seed).uniform(n, -1, 1), shape, { device, requiresGrad }));
}

export const NORM_BENCHES: Record<string, (device: F.DeviceName) => Promise<BenchResult>> = {
  // Swin stage-1 LayerNorm at batch 1 (120·120 = 14400 tokens would be the paper size; PERF-NOTES uses 9216 × 128).
  // GB/s counts the forward's compulsory traffic: read x, write y (4 bytes each).
  layernorm_9216x128: async (d) => {
    const x = uniform([9216, 128], d, 1);
    const w = uniform([128], d, 2);
    const b = uniform([128], d, 3);
    const ms = await timeIt(() => F.scope(() => { layerNorm(x, w, b); }), 20, d);
    // Forward + backward (dx, dweight, dbias), for the training-step picture.
    const xg = uniform([9216, 128], d, 1, true);
    const wg = uniform([128], d, 2, true);
    const bg = uniform([128], d, 3, true);
    const g = uniform([9216, 128], d, 4);
    const fbMs = await timeIt(() => F.scope(() => {
      layerNorm(xg, wg, bg).backward(g);
      for (const t of [xg, wg, bg]) { t.grad?.dispose(); t.grad = null; }
    }), 10, d);
    for (const t of [x, w, b, xg, wg, bg, g]) t.dispose();
    return { bench: 'layernorm_9216x128', device: d, ms, gbps: (2 * 4 * 9216 * 128) / ms / 1e6, fwd_bwd_ms: fbMs };
  },
  // The decoder's last step (FIANET.md §8): logits (B=2, 2, 120, 120) to 480 × 480, align_corners=True.
  bilinear_up4: async (d) => {
    const x = uniform([2, 2, 120, 120], d, 1, true);
    const g = uniform([2, 2, 480, 480], d, 2);
    const ms = await timeIt(() => F.scope(() => { F.noGrad(() => interpolate(x, { size: [480, 480], mode: 'bilinear', alignCorners: true })); }), 10, d);
    const fbMs = await timeIt(() => F.scope(() => {
      interpolate(x, { size: [480, 480], mode: 'bilinear', alignCorners: true }).backward(g);
      x.grad?.dispose();
      x.grad = null;
    }), 10, d);
    const bytes = 4 * (2 * 2 * 120 * 120 + 2 * 2 * 480 * 480);
    x.dispose();
    g.dispose();
    return { bench: 'bilinear_up4', device: d, ms, gbps: bytes / ms / 1e6, fwd_bwd_ms: fbMs };
  },
};
