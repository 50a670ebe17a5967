// Convolution benchmarks: the 3x3 conv of PERF-NOTES.md (64->64 on 128x128, batch 1) forward and
// forward+backward, and the small conv net training step.
import * as F from '../src/index.ts';
import { conv2d } from '../src/kernels/conv/conv.op.ts';
import { Conv2d } from '../src/nn/conv.ts';
import { randn, timeIt, type BenchResult } from './engine.ts';

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
    const opt = new F.SGD(params, { lr: 0.01 });
    const x = randn([8, 3, 64, 64], d, 4);
    const y = F.keep(F.fromArray(Int32Array.from({ length: 8 }, (_, i) => i % 10), [8], { device: d }));
    const rt = d === 'webgpu' ? F.getRuntime() : null;
    const step = () => F.scope(() => {
      const h = F.relu(c2.forward(F.relu(c1.forward(x))));
      const loss = F.crossEntropy(fc.forward(F.reshape(h, [8, 32768])), y);
      loss.backward();
      opt.step();
      opt.zeroGrad();
    });
    const before = rt?.dispatches ?? 0;
    step();
    const dispatches = rt ? rt.dispatches - before : undefined;
    const ms = await timeIt(step, 10, d);
    opt.dispose(); x.dispose(); y.dispose();
    for (const p of params) p.dispose();
    return { bench: 'train_step_convnet', device: d, ms, dispatches_per_step: dispatches };
  },
};
