// Model benchmarks: the demo config's training step (batch 8) and the paper model at 480x480 (batch 1) forward
// and training step, each with ms, effective GFLOP/s (2 x analytic MACs; a training step counted as 3x the
// forward), dispatches per step and the buffer pool's peak device memory. The paper-size ones are heavy on
// lavapipe (tens of seconds each): they run with --only or --all.
import * as F from '../src/index.ts';
import { loadFianetConfig } from '../src/config/index.ts';
import { FIANet } from '../src/models/fianet/model.ts';
import { forwardMacs } from '../src/models/fianet/summary.ts';
import { fianetLoss } from '../src/kernels/loss/loss.op.ts';
import type { FianetConfig } from '../src/config/fianet.ts';
import { timeIt, type BenchResult } from './engine.ts';

export const HEAVY_BENCHES = new Set(['fianet_b480_forward', 'fianet_b480_train_step']);

function inputs(cfg: FianetConfig, B: number, device: F.DeviceName) {
  const S = cfg.data.image_size;
  const L = cfg.data.text_length;
  const g = new F.Generator(3);
  const ids = Int32Array.from({ length: B * L }, (_, i) => (i % L < 8 ? 2000 + ((i * 131) % 20000) : 0));
  const m = (f: (j: number) => boolean) => Int32Array.from({ length: B * L }, (_, i) => (f(i % L) ? 1 : 0));
  const t = (a: Int32Array) => F.keep(F.fromArray(a, [B, L], { device, dtype: 'i32' }));
  return {
    x: F.keep(F.fromArray(g.normal(B * 3 * S * S), [B, 3, S, S], { device })),
    ids: t(ids), mC: t(m((j) => j < 8)), mG: t(m((j) => j === 2 || j === 3)), mS: t(m((j) => j >= 4 && j < 7)),
    y: F.keep(F.fromArray(Int32Array.from({ length: B * S * S }, (_, i) => ((i % S) * 3 < S ? 1 : 0)), [B, S, S], { device, dtype: 'i32' })),
  };
}

async function measure(name: string, cfg: FianetConfig, B: number, device: F.DeviceName, trainStep: boolean, reps: number): Promise<BenchResult> {
  const rt = device === 'webgpu' ? F.getRuntime() : null;
  const model = new FIANet(cfg.model, { device, seed: 1 });
  const inp = inputs(cfg, B, device);
  const opt = trainStep ? new F.AdamW(model.parameters(), { lr: 1e-5 }) : null;
  if (!trainStep) model.eval();
  const run = () => F.scope(() => {
    if (!trainStep) {
      F.noGrad(() => model.forward(inp.x, inp.ids, inp.mC, inp.mG, inp.mS));
      return;
    }
    fianetLoss(model.forward(inp.x, inp.ids, inp.mC, inp.mG, inp.mS), inp.y).loss.backward();
    opt!.step();
    model.zeroGrad();
  });
  // Warm up first, so the peak and the dispatch count cover only the timed steps.
  run();
  if (rt) await rt.sync();
  rt?.pool.resetPeak();
  const d0 = rt?.dispatches ?? 0;
  const ms = await timeIt(run, reps, device, 0);
  const macs = forwardMacs(cfg, B).total * (trainStep ? 3 : 1);
  const params = model.numParameters();
  const res: BenchResult = {
    bench: name, device, ms, gflops: (2 * macs) / ms / 1e6,
    dispatches_per_step: rt ? (rt.dispatches - d0) / reps : undefined,
    peak_mib: rt ? rt.poolStats().peakBytes / 2 ** 20 : undefined,
    // For reading the peak: parameters, their gradients and AdamW's two moments are 4 x params x 4 bytes.
    params_grads_adam_mib: trainStep ? (16 * params) / 2 ** 20 : (4 * params) / 2 ** 20,
  };
  opt?.dispose();
  for (const t of Object.values(inp)) t.dispose();
  model.dispose();
  return res;
}

export const FIANET_BENCHES: Record<string, (device: F.DeviceName) => Promise<BenchResult>> = {
  fianet_tiny_train_step: (d) => measure('fianet_tiny_train_step', loadFianetConfig('configs/synthetic/fianet-tiny.yaml'), 8, d, true, 5),
  fianet_b480_forward: (d) => measure('fianet_b480_forward', loadFianetConfig('configs/rrsisd/fianet_swinb.yaml'), 1, d, false, 1),
  fianet_b480_train_step: (d) => measure('fianet_b480_train_step', loadFianetConfig('configs/rrsisd/fianet_swinb.yaml'), 1, d, true, 1),
};
