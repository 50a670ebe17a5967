// nn and optim: fused optimizer kernels vs their references, stateDict round trips and load reports, the leak
// test (live buffers back to baseline after a training step), and an MLP that learns two spirals on webgpu
// while its first steps match the same run on cpu.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as F from '../src/index.ts';
import { adamwCpu, sgdCpu } from '../src/kernels/optim/optim.cpu.ts';
import { adamwUpdate, adamwUpdateMany, sgdUpdate } from '../src/kernels/optim/optim.op.ts';
import { MLP, spirals, trainSpirals } from '../src/train/spirals.ts';

let gpu = false;
try { await F.initWebGPU(); gpu = true; } catch { /* cpu only */ }
const devices: F.DeviceName[] = gpu ? ['cpu', 'webgpu'] : ['cpu'];

test('fused AdamW and SGD kernels match their references', async () => {
  if (!gpu) return;
  const g = new F.Generator(3);
  const n = 1037;
  const init = () => [g.uniform(n, -1, 1), g.uniform(n, -1, 1), g.uniform(n, -0.1, 0.1), g.uniform(n, 0, 0.1)];
  const [p0, g0, m0, v0] = init();
  const h = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3 };
  const ref = [Float32Array.from(p0!), Float32Array.from(g0!), Float32Array.from(m0!), Float32Array.from(v0!)];
  adamwCpu(ref[0]!, ref[1]!, ref[2]!, ref[3]!, h);
  const t = [p0, g0, m0, v0].map((a) => F.keep(F.fromArray(a!, [n], { device: 'webgpu' })));
  adamwUpdate(t[0]!, t[1]!, t[2]!, t[3]!, h);
  for (const k of [0, 2, 3]) {
    const got = await t[k]!.toArray();
    for (let i = 0; i < n; i++) assert.ok(Math.abs(got[i]! - ref[k]![i]!) < 1e-6, `adamw state ${k}[${i}]`);
  }
  t.forEach((x) => x.dispose());
  // SGD with and without momentum, on a size that takes the scalar kernel (n) and one that takes vec4 (n - 1).
  for (const len of [n, n - 1]) {
    for (const momentum of [0.9, 0]) {
      const hs = { lr: 0.1, momentum, weightDecay: 1e-4 };
      const sref = [p0!, g0!, m0!].map((a) => Float32Array.from(a.subarray(0, len)));
      sgdCpu(sref[0]!, sref[1]!, momentum ? sref[2]! : null, hs);
      const st = sref.map((a, k) => F.keep(F.fromArray([p0!, g0!, m0!][k]!.subarray(0, len), [len], { device: 'webgpu' })));
      sgdUpdate(st[0]!, st[1]!, momentum ? st[2]! : null, hs);
      const sp = await st[0]!.toArray();
      for (let i = 0; i < len; i++) assert.ok(Math.abs(sp[i]! - sref[0]![i]!) < 1e-6, `sgd n=${len} momentum=${momentum} p[${i}]`);
      if (momentum) {
        const sb = await st[2]!.toArray();
        for (let i = 0; i < len; i++) assert.ok(Math.abs(sb[i]! - sref[2]![i]!) < 1e-6, `sgd n=${len} buffer[${i}]`);
      }
      st.forEach((x) => x.dispose());
    }
  }
});

test('multi-tensor AdamW (4 tensors per dispatch, per-tensor lr and decay) matches the reference', async () => {
  if (!gpu) return;
  const g = new F.Generator(8);
  // Sizes that are multiples of 4 are grouped into vec4 dispatches (5 here: 4 + 1), the others into scalar ones.
  const sizes = [5, 1, 1037, 64, 3, 999, 8, 2, 1024, 12, 4];
  const base = { beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 4 };
  const items = sizes.map((n, j) => {
    const arrs = [g.uniform(n, -1, 1), g.uniform(n, -1, 1), g.uniform(n, -0.1, 0.1), g.uniform(n, 0, 0.1)];
    const h = { ...base, lr: 1e-3 * (j + 1), weightDecay: j % 2 ? 0 : 0.01 };
    const ref = arrs.map((a) => Float32Array.from(a));
    adamwCpu(ref[0]!, ref[1]!, ref[2]!, ref[3]!, h);
    const t = arrs.map((a) => F.keep(F.fromArray(a, [n], { device: 'webgpu' })));
    return { ref, t, h };
  });
  adamwUpdateMany(items.map(({ t, h }) => ({ p: t[0]!, g: t[1]!, m: t[2]!, v: t[3]!, h })));
  for (const [j, it] of items.entries()) {
    for (const k of [0, 2, 3]) {
      const got = await it.t[k]!.toArray();
      for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - it.ref[k]![i]!) < 1e-6, `tensor ${j} state ${k}[${i}]`);
    }
    it.t.forEach((x) => x.dispose());
  }
});

test('AdamW matches a hand-computed PyTorch step', () => {
  // torch.optim.AdamW([p], lr=0.1, weight_decay=0.5) on p=1, grad=2, one step: p = 1*(1-0.05) - 0.1 * 1 = 0.85
  const p = F.keep(F.fromArray([1], [1], { device: 'cpu', requiresGrad: true }));
  p.grad = F.keep(F.fromArray([2], [1], { device: 'cpu' }));
  const opt = new F.AdamW([p], { lr: 0.1, weightDecay: 0.5 });
  opt.step();
  assert.ok(Math.abs(p.storage.cpu![0]! - 0.85) < 1e-6, `got ${p.storage.cpu![0]}`);
});

test('parameter groups, poly schedule and optimizer state round trip', () => {
  const a = F.keep(F.fromArray([1, 2], [2], { device: 'cpu', requiresGrad: true }));
  const b = F.keep(F.fromArray([3], [1], { device: 'cpu', requiresGrad: true }));
  const opt = new F.AdamW([{ params: [a], lr: 1e-3, weightDecay: 0.01 }, { params: [b], lr: 2e-3, weightDecay: 0 }]);
  const sched = new F.PolyLR(opt, 10, 0.9);
  assert.is(opt.paramGroups[1]!.lr, 2e-3);
  sched.step();
  assert.ok(Math.abs(opt.paramGroups[0]!.lr - 1e-3 * 0.9 ** 0.9) < 1e-12);
  a.grad = F.keep(F.fromArray([1, 1], [2], { device: 'cpu' }));
  opt.step();
  const sd = opt.stateDict();
  assert.is(sd.step, 1);
  assert.ok(sd.state[0]!.exp_avg);
  assert.is(sd.state[1]!.exp_avg, undefined, 'no state for a parameter without grad');
  const opt2 = new F.AdamW([{ params: [a], lr: 1, weightDecay: 0.01 }, { params: [b], lr: 1, weightDecay: 0 }]);
  opt2.loadStateDict(sd);
  assert.is(opt2.stepCount, 1);
  assert.ok(Math.abs(opt2.paramGroups[0]!.lr - 1e-3 * 0.9 ** 0.9) < 1e-12);
  const s2 = new F.PolyLR(opt2, 10);
  s2.loadStateDict(sched.stateDict());
  assert.ok(Math.abs(opt2.paramGroups[1]!.lr - 2e-3 * 0.9 ** 0.9) < 1e-12);
});

test('stateDict keys, strict loading and the load report', () => {
  const m = new MLP([2, 4, 4, 2], 'cpu', 1);
  const keys = [...m.stateDict().keys()];
  assert.equal(keys, ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias']);
  const other = new MLP([2, 4, 4, 2], 'cpu', 2);
  other.loadStateDict(m.stateDict());
  assert.equal(Array.from(other.fc2.weight.storage.cpu!), Array.from(m.fc2.weight.storage.cpu!));
  const bad = new Map<string, F.HostTensor>([['fc1.weight', { shape: [3, 2], data: new Float32Array(6) }], ['extra.bias', { shape: [1], data: new Float32Array(1) }]]);
  assert.throws(() => other.loadStateDict(bad), /fc1\.weight: expected \(4, 2\), found \(3, 2\)/);
  const r = other.loadStateDict(bad, { strict: false });
  assert.equal(r.unexpected, ['extra.bias']);
  assert.is(r.missing.length, 5);
  assert.is(r.mismatched[0]!.key, 'fc1.weight');
});

test('clipGradNorm scales to the max norm without reading back', async () => {
  for (const device of devices) {
    const p = F.keep(F.fromArray([0, 0], [2], { device, requiresGrad: true }));
    p.grad = F.keep(F.fromArray([3, 4], [2], { device }));
    const norm = F.clipGradNorm([p], 1)!;
    assert.ok(Math.abs((await norm.item()) - 5) < 1e-5);
    const g = await p.grad!.toArray();
    assert.ok(Math.abs(g[0]! - 0.6) < 1e-5 && Math.abs(g[1]! - 0.8) < 1e-5, `${device}: ${g}`);
  }
});

test('bad input names the op and the shapes or devices', () => {
  const a = F.fromArray([1, 2, 3], [3], { device: 'cpu' });
  const b = F.fromArray([1, 2], [2], { device: 'cpu' });
  assert.throws(() => F.add(a, b), /add: shapes \(3\) and \(2\) do not broadcast/);
  assert.throws(() => F.matmul(F.reshape(a, [1, 3]), F.reshape(b, [2, 1])), /matmul: inner dims differ/);
  assert.throws(() => F.sum(a, 2), /sum: axis 2 out of range/);
  assert.throws(() => F.embedding(F.reshape(a, [3, 1]), b), /embedding: ids must be i32/);
  if (gpu) assert.throws(() => F.add(a, F.fromArray([1, 2, 3], [3], { device: 'webgpu' })), /add: tensors on different devices/);
  a.dispose();
  assert.throws(() => F.neg(a), /used after dispose/);
});

test('a training step returns live tensors and buffers to baseline', async () => {
  for (const device of devices) {
    const m = new MLP([2, 16, 16, 2], device, 5);
    const opt = new F.AdamW(m.parameters(), { lr: 1e-2 });
    const data = spirals(64, 9);
    const step = () => F.scope(() => {
      const x = F.fromArray(data.x, [64, 2], { device });
      const y = F.fromArray(data.y, [64], { device });
      const loss = F.crossEntropy(m.forward(x), y);
      loss.backward();
      F.clipGradNorm(m.parameters(), 10);
      opt.step();
      opt.zeroGrad();
    });
    step(); // creates the optimizer state
    const rt = device === 'webgpu' ? F.getRuntime() : null;
    if (rt) await rt.sync();
    const before = { ...F.memoryStats, gpu: rt?.poolStats().live };
    for (let i = 0; i < 3; i++) step();
    if (rt) await rt.sync();
    assert.is(F.memoryStats.liveTensors, before.liveTensors, `${device}: live tensors`);
    assert.is(F.memoryStats.liveStorages, before.liveStorages, `${device}: live storages`);
    if (rt) assert.is(rt.poolStats().live, before.gpu, 'live GPU buffers');
    if (rt) {
      const compiles = rt.compiles;
      step();
      assert.is(rt.compiles, compiles, 'a training step compiles no shader after the first');
    }
    opt.dispose();
    m.dispose();
  }
});

test('an MLP learns two spirals on webgpu (>= 95%) and its first steps match cpu', async () => {
  const main = await trainSpirals(gpu ? 'webgpu' : 'cpu', 400);
  assert.ok(main.accuracy! >= 0.95, `accuracy ${main.accuracy}`);
  if (gpu) {
    const cpu = await trainSpirals('cpu', 5);
    cpu.losses.forEach((l, i) => assert.ok(Math.abs(l - main.losses[i]!) < 1e-4 * Math.max(1, Math.abs(l)), `step ${i}: cpu ${l} vs webgpu ${main.losses[i]}`));
  }
});

test.run();
