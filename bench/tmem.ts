// TMEM and loss benchmarks for `fianet bench`: the fused TMEM kernels against their primitive-op
// compositions at Swin-B's 480² stage shapes, and FIANet's fused loss at the paper's batch (B = 8, 480²).
// Times are medians after warm-up, measured around a queue sync; dispatch counts are per step.
import * as F from '../src/index.ts';
import type { BenchResult } from './engine.ts';
import { fianetLoss } from '../src/kernels/loss/loss.op.ts';
import { pyramidPoolConcat, tmemGate } from '../src/kernels/tmem/tmem.op.ts';
import { pyramidPoolConcatComposite, tmemGateComposite } from '../src/kernels/tmem/tmem.compose.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Median and best ms of each fn, timed in interleaved rounds (a, b, c, a, b, c, ...) after one warm-up call
 * each, so the variants being compared see the same machine load (2 shared cores here: the best of the
 * rounds is the steadier figure when other work competes for them).
 */
async function timeRounds(fns: Record<string, () => void>, reps: number, device: F.DeviceName): Promise<Record<string, { med: number; min: number }>> {
  const sync = async () => { if (device === 'webgpu') await F.getRuntime().sync(); };
  const times: Record<string, number[]> = {};
  for (const [k, fn] of Object.entries(fns)) {
    fn();
    await sync();
    times[k] = [];
  }
  for (let r = 0; r < reps; r++) {
    for (const [k, fn] of Object.entries(fns)) {
      const t0 = performance.now();
      fn();
      await sync();
      times[k]!.push(performance.now() - t0);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, { med: median(v), min: Math.min(...v) }]));
}

/** Dispatches recorded by one call of fn (0 on the cpu device). */
function countDispatches(fn: () => void, device: F.DeviceName): number {
  if (device !== 'webgpu') return 0;
  const rt = F.getRuntime();
  const before = rt.dispatches;
  fn();
  return rt.dispatches - before;
}

function rand(shape: number[], device: F.DeviceName, seed: number, requiresGrad = false): F.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return F.keep(F.fromArray(new F.Generator(seed).uniform(n, -2, 2), shape, { device, requiresGrad }));
}

// Swin-B's four stage maps at 480² (FIANET.md §7), batch 1, and the 15×15 coarse grid.
const STAGES: [number, number][] = [[128, 120], [256, 60], [512, 30], [1024, 15]];
const COARSE = 15;

async function tmemFusion(d: F.DeviceName): Promise<BenchResult> {
  const maps = STAGES.map(([c, s], i) => rand([1, c, s, s], d, 10 + i, true));
  const globs = STAGES.map(([c], i) => rand([1, c, COARSE, COARSE], d, 20 + i, true));
  const acts = STAGES.map(([c], i) => rand([1, c, COARSE, COARSE], d, 30 + i, true));
  const gPool = rand([1, 1920, COARSE, COARSE], d, 40);
  const gGate = STAGES.map(([c, s], i) => rand([1, c, s, s], d, 50 + i));
  const leaves = [...maps, ...globs, ...acts];
  const clearGrads = () => { for (const t of leaves) { t.grad?.dispose(); t.grad = null; } };

  type Impl = { pool: (xs: F.Tensor[]) => F.Tensor; gate: (l: F.Tensor, g: F.Tensor, a: F.Tensor) => F.Tensor };
  const impls: Record<string, Impl> = {
    fused: { pool: (xs) => pyramidPoolConcat(xs, [COARSE, COARSE]), gate: tmemGate },
    composite: { pool: (xs) => pyramidPoolConcatComposite(xs, COARSE, COARSE), gate: tmemGateComposite },
  };
  // Four steps per implementation: pooling+concat forward, and forward+backward; the four gates likewise.
  const steps = (impl: Impl): Record<string, () => void> => ({
    pool_fwd: () => F.noGrad(() => F.scope(() => { impl.pool(maps); })),
    pool_fwd_bwd: () => { F.scope(() => { impl.pool(maps).backward(gPool); }); clearGrads(); },
    gates_fwd: () => F.noGrad(() => F.scope(() => { STAGES.forEach((_, i) => impl.gate(maps[i]!, globs[i]!, acts[i]!)); })),
    gates_fwd_bwd: () => {
      F.scope(() => { STAGES.forEach((_, i) => impl.gate(maps[i]!, globs[i]!, acts[i]!).backward(gGate[i]!)); });
      clearGrads();
    },
  });
  const all: Record<string, () => void> = {};
  for (const [name, impl] of Object.entries(impls)) {
    for (const [step, fn] of Object.entries(steps(impl))) all[`${name}.${step}`] = fn;
  }
  const ms = await timeRounds(all, 9, d);
  const report = (name: string) => {
    const r: Record<string, number> = {};
    for (const step of Object.keys(steps(impls[name]!))) {
      r[`${step}_ms`] = +ms[`${name}.${step}`]!.med.toFixed(2);
      r[`${step}_min_ms`] = +ms[`${name}.${step}`]!.min.toFixed(2);
      r[`${step}_dispatches`] = countDispatches(all[`${name}.${step}`]!, d);
    }
    return r;
  };
  const fused = report('fused');
  const composite = report('composite');
  for (const t of [...leaves, gPool, ...gGate]) t.dispose();
  const total = (r: Record<string, number>, k = '') => r[`pool_fwd_bwd${k}_ms`]! + r[`gates_fwd_bwd${k}_ms`]!;
  return {
    bench: 'tmem_fusion', device: d, ms: total(fused), min_ms: total(fused, '_min'), fused, composite,
    speedup_fwd_bwd: +(total(composite) / total(fused)).toFixed(2),
    speedup_fwd_bwd_min: +(total(composite, '_min') / total(fused, '_min')).toFixed(2),
  };
}

async function fianetLossBench(d: F.DeviceName): Promise<BenchResult> {
  const [B, H, W] = [8, 480, 480];
  const z = rand([B, 2, H, W], d, 1, true);
  const labels = Int32Array.from({ length: B * H * W }, (_, i) => +((i % W) > W / 3 && ((i / W) | 0) % H < H / 2));
  const y = F.keep(F.fromArray(labels, [B, H, W], { device: d }));
  const fwd = () => F.noGrad(() => F.scope(() => { fianetLoss(z, y); }));
  const step = () => {
    F.scope(() => { fianetLoss(z, y).loss.backward(); });
    z.grad?.dispose();
    z.grad = null;
  };
  const t = await timeRounds({ fwd, step }, 9, d);
  const dispatches = countDispatches(step, d);
  z.dispose(); y.dispose();
  // Bytes: the forward reads z and y; the backward reads them again and writes dz.
  const bytes = 4 * (2 * (z.size + y.size) + z.size);
  return {
    bench: 'fianet_loss', device: d, ms: t.step!.med, min_ms: t.step!.min, fwd_ms: t.fwd!.med, fwd_min_ms: t.fwd!.min,
    gbps: bytes / t.step!.med / 1e6, dispatches_per_step: dispatches,
  };
}

export const TMEM_BENCHES: Record<string, (device: F.DeviceName) => Promise<BenchResult>> = {
  tmem_fusion: tmemFusion,
  fianet_loss: fianetLossBench,
};
