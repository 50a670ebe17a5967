// Convolution benchmarks: the 3x3 conv of PERF-NOTES.md (64->64 on 128x128, batch 1) forward and
// forward+backward, and the small conv net training step.
import * as F from '../src/index.ts';
import { conv2d } from '../src/kernels/conv/conv.op.ts';
import { Conv2d } from '../src/nn/conv.ts';
import { randn, sgdStepBench, timeIt, type BenchResult } from './engine.ts';

export const CONV_BENCHES: Record<string, (device: F.DeviceName) => Promise<BenchResult>> = {
  conv3x3_64_128: async (d) => {
    const x = randn([1, 64, 128, 128], d, 1);
    const w = randn([64, 64, 3, 3], d, 2);
    const flop = 2 * 64 * 64 * 9 * 128 * 128;
    const fwd = await timeIt(() => F.scope(() => { conv2d(x, w, null, { padding: 1 }); }), 5, d);
    const xg = F.keep(F.fromArray(await x.toArray(), x.shape, { device: d, requiresGrad: true }));
    const wg = F.keep(F.fromArray(await w.toArray(), w.shape, { device: d, requiresGrad: true }));
    const fb = await timeIt(() => F.scope(() => {
      conv2d(xg, wg, null, { padding: 1 }).backward(F.ones([1, 64, 128, 128], 'f32', d));
      xg.grad?.dispose(); wg.grad?.dispose(); xg.grad = null; wg.grad = null;
    }), 5, d);
    [x, w, xg, wg].forEach((t) => t.dispose());
    return { bench: 'conv3x3_64_128', device: d, ms: fwd, gflops: flop / fwd / 1e6, fwd_bwd_ms: fb, bwd_over_fwd: (fb - fwd) / fwd };
  },
  train_step_convnet: async (d) => {
    // PERF-NOTES.md: conv(3->16)+ReLU, conv(16->32, stride 2)+ReLU, dense(32768->10), CE, SGD; batch 8x3x64x64.
    const o = { generator: new F.Generator(3), device: d };
    const c1 = new Conv2d(3, 16, 3, { padding: 1, ...o });
    const c2 = new Conv2d(16, 32, 3, { padding: 1, stride: 2, ...o });
    const fc = new F.Linear(32768, 10, true, o);
    const params = [...c1.parameters(), ...c2.parameters(), ...fc.parameters()];
    return sgdStepBench('train_step_convnet', d, params, randn([8, 3, 64, 64], d, 4),
      (x) => fc.forward(F.reshape(F.relu(c2.forward(F.relu(c1.forward(x)))), [8, 32768])));
  },
};
