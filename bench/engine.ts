// Engine benchmarks for `fianet bench`: each returns {bench, device, ms, gflops | gbps}. Times are medians of
// repeated runs after warm-up, measured around a queue sync, so they include dispatch and submit overhead.
import * as F from '../src/index.ts';

export interface BenchResult {
  bench: string;
  device: string;
  ms: number;
  gflops?: number;
  gbps?: number;
  [k: string]: unknown;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median ms of `reps` runs after `warmup` untimed ones, each timed around a queue sync. */
export async function timeIt(fn: () => void, reps: number, device: F.DeviceName, warmup = 1): Promise<number> {
  const sync = async () => { if (device === 'webgpu') await F.getRuntime().sync(); };
  for (let w = 0; w < warmup; w++) fn();
  await sync();
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    await sync();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** A kept uniform(-1, 1) tensor (benchmark input). */
export function randn(shape: number[], device: F.DeviceName, seed = 1): F.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return F.keep(F.fromArray(new F.Generator(seed).uniform(n, -1, 1), shape, { device }));
}

/**
 * One SGD training step on 10-class cross-entropy: `logits` maps the kept input to (batch, 10). Returns the median
 * ms of 10 steps and the dispatches of one; frees the parameters, input and labels.
 */
export async function sgdStepBench(name: string, device: F.DeviceName, params: F.Tensor[], x: F.Tensor, logits: (x: F.Tensor) => F.Tensor): Promise<BenchResult> {
  const batch = x.shape[0]!;
  const opt = new F.SGD(params, { lr: 0.01 });
  const y = F.keep(F.fromArray(Int32Array.from({ length: batch }, (_, i) => i % 10), [batch], { device }));
  const rt = device === 'webgpu' ? F.getRuntime() : null;
  const step = () => F.scope(() => {
    F.crossEntropy(logits(x), y).backward();
    opt.step();
    opt.zeroGrad();
  });
  const before = rt?.dispatches ?? 0;
  step();
  const dispatches = rt ? rt.dispatches - before : undefined;
  const ms = await timeIt(step, 10, device);
  opt.dispose(); x.dispose(); y.dispose();
  for (const p of params) p.dispose();
  return { bench: name, device, ms, dispatches_per_step: dispatches };
}

async function matmulBench(name: string, batch: number, M: number, K: number, N: number, device: F.DeviceName, reps: number): Promise<BenchResult> {
  const a = randn(batch > 1 ? [batch, M, K] : [M, K], device, 1);
  const b = randn(batch > 1 ? [batch, K, N] : [K, N], device, 2);
  const ms = await timeIt(() => F.scope(() => { F.matmul(a, b); }), reps, device);
  a.dispose(); b.dispose();
  return { bench: name, device, ms, gflops: (2 * batch * M * N * K) / ms / 1e6 };
}

export const ENGINE_BENCHES: Record<string, (device: F.DeviceName) => Promise<BenchResult>> = {
  matmul_1024: (d) => matmulBench('matmul_1024', 1, 1024, 1024, 1024, d, 5),
  matmul_2048: (d) => matmulBench('matmul_2048', 1, 2048, 2048, 2048, d, 3),
  bmm_qk: (d) => matmulBench('bmm_qk', 64, 144, 32, 144, d, 10),
  bmm_pv: (d) => matmulBench('bmm_pv', 64, 144, 144, 32, d, 10),
  softmax_64x144x144: async (d) => {
    const x = randn([64, 144, 144], d);
    const ms = await timeIt(() => F.scope(() => { F.softmax(x); }), 10, d);
    x.dispose();
    return { bench: 'softmax_64x144x144', device: d, ms, gbps: (2 * 4 * x.size) / ms / 1e6 };
  },
  dispatch_overhead: async (d) => {
    // 1000 tiny element-wise ops recorded as one batch (submitted in FIANET_FLUSH_EVERY chunks): the
    // per-dispatch cost inside a batched step. 20 repetitions so the median is the JIT-warm steady state a
    // training loop runs in (the first few batches pay for compiling the host path).
    const x = randn([64], d);
    const n = 1000;
    const ms = await timeIt(() => F.scope(() => { for (let i = 0; i < n; i++) F.add(x, 1); }), 20, d);
    x.dispose();
    return { bench: 'dispatch_overhead', device: d, ms, us_per_dispatch: (ms * 1000) / n };
  },
  train_step_mlp: async (d) => {
    // PERF-NOTES.md: MLP 784-1024-1024-10, batch 128, cross-entropy, SGD.
    const g = { generator: new F.Generator(1), device: d };
    const l1 = new F.Linear(784, 1024, true, g);
    const l2 = new F.Linear(1024, 1024, true, g);
    const l3 = new F.Linear(1024, 10, true, g);
    const params = [...l1.parameters(), ...l2.parameters(), ...l3.parameters()];
    return sgdStepBench('train_step_mlp', d, params, randn([128, 784], d), (x) => l3.forward(F.relu(l2.forward(F.relu(l1.forward(x))))));
  },
};
