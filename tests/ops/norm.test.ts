// The norm and resample families: every case of cases-norm.ts through checkCase (WGSL vs CPU reference, forward
// and gradients, then float64 gradcheck), PyTorch golden values (tests/fixtures/golden/make_norm.py) on every
// device, the nn layers (state-dict keys, train/eval, running statistics on the device), determinism of the
// gather backward, and error messages.
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as F from '../../src/index.ts';
import { batchNorm2d, instanceNormTokens, layerNorm } from '../../src/kernels/norm/norm.op.ts';
import { adaptiveAvgPool2d, interpolate } from '../../src/kernels/resample/resample.op.ts';
import { BatchNorm2d, InstanceNorm1dTokens, LayerNorm } from '../../src/nn/norm.ts';
import { CASES_NORM } from './cases-norm.ts';
import { MANIFEST_NORM } from '../../src/kernels/norm/manifest.ts';
import { MANIFEST_RESAMPLE } from '../../src/kernels/resample/manifest.ts';
import { checkCase, testDevices } from './harness.ts';

const devices = await testDevices();

interface Arr { shape: number[]; data: number[] }
const golden = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/golden/${name}`, import.meta.url), 'utf8'));
const NORM = golden('norm.json');
const RESAMPLE = golden('norm_resample.json');

const T = (a: Arr, device: F.DeviceName, requiresGrad = false) => F.fromArray(a.data, a.shape, { device, requiresGrad });

async function close(t: F.Tensor | null, want: Arr | number[], what: string, tol = 2e-5): Promise<void> {
  assert.ok(t, `${what}: missing`);
  const got = await t!.toArray();
  const ref = Array.isArray(want) ? want : want.data;
  if (!Array.isArray(want)) assert.equal([...t!.shape], want.shape, `${what}: shape`);
  assert.is(got.length, ref.length, `${what}: length`);
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i]! - ref[i]!) / (tol + tol * Math.abs(ref[i]!));
    if (!(err <= 1)) assert.unreachable(`${what}: element ${i}: ${got[i]} vs ${ref[i]} (tol ${tol})`);
  }
}

const s = suite('norm+resample');

let seed = 5000;
for (const c of CASES_NORM) {
  const caseSeed = seed++;
  s(`${c.op}: ${c.label}`, async () => {
    await checkCase(c, caseSeed, devices);
  });
}

for (const d of devices) {
  s(`golden layerNorm (${d})`, async () => {
    for (const [k, c] of (NORM.layer_norm as Record<string, Arr & number>[]).entries()) {
      const x = T(c.x as Arr, d, true);
      const w = T(c.weight as Arr, d, true);
      const b = T(c.bias as Arr, d, true);
      const y = layerNorm(x, w, b, c.eps as number);
      y.backward(T(c.g as Arr, d));
      // eps 1e-12 rows amplify float32 rounding a little more.
      await close(y, c.y as Arr, `case ${k} y`, 5e-5);
      await close(x.grad, c.dx as Arr, `case ${k} dx`, 1e-4);
      await close(w.grad, c.dweight as Arr, `case ${k} dweight`, 5e-5);
      await close(b.grad, c.dbias as Arr, `case ${k} dbias`, 5e-5);
    }
  });

  s(`golden BatchNorm2d train (running stats, num_batches_tracked) and eval (${d})`, async () => {
    for (const [k, c] of (NORM.batch_norm2d as Record<string, unknown>[]).entries()) {
      const m = new BatchNorm2d((c.weight as Arr).shape[0]!, { device: d });
      m.loadStateDict(new Map([
        ['weight', c.weight as Arr], ['bias', c.bias as Arr],
        ['running_mean', c.running_mean0 as Arr], ['running_var', c.running_var0 as Arr],
        ['num_batches_tracked', { shape: [], data: [0] }],
      ].map(([n, a]) => [n as string, { shape: (a as Arr).shape, data: Float32Array.from((a as Arr).data) }])));
      m.train();
      for (const [step, st] of (c.train as Record<string, Arr>[]).entries()) {
        m.zeroGrad();
        const x = T(st.x!, d, true);
        const y = m.forward(x);
        y.backward(T(st.g!, d));
        const at = `case ${k} step ${step}`;
        await close(y, st.y!, `${at} y`, 5e-5);
        await close(x.grad, st.dx!, `${at} dx`, 1e-4);
        await close(m.weight!.grad, st.dweight!, `${at} dweight`, 5e-5);
        await close(m.bias!.grad, st.dbias!, `${at} dbias`, 5e-5);
        await close(m.running_mean, st.running_mean!, `${at} running_mean`, 5e-6);
        await close(m.running_var, st.running_var!, `${at} running_var`, 5e-6);
        assert.is(await m.num_batches_tracked!.item(), st.num_batches_tracked as unknown as number, `${at} num_batches_tracked`);
      }
      m.eval();
      m.zeroGrad();
      const ev = c.eval as Record<string, Arr>;
      const x = T(ev.x!, d, true);
      const rmBefore = await m.running_mean!.toArray();
      const y = m.forward(x);
      y.backward(T(ev.g!, d));
      await close(y, ev.y!, `case ${k} eval y`, 5e-5);
      await close(x.grad, ev.dx!, `case ${k} eval dx`, 5e-5);
      await close(m.weight!.grad, ev.dweight!, `case ${k} eval dweight`, 5e-5);
      await close(m.bias!.grad, ev.dbias!, `case ${k} eval dbias`, 5e-5);
      await close(m.running_mean, Array.from(rmBefore), `case ${k} eval leaves running_mean`, 1e-9);
      m.dispose();
    }
  });

  s(`golden InstanceNorm1d over tokens (${d})`, async () => {
    for (const [k, c] of (NORM.instance_norm_tokens as Record<string, Arr>[]).entries()) {
      const m = new InstanceNorm1dTokens();
      for (const training of [true, false]) {
        m.train(training);
        const x = T(c.x!, d, true);
        const y = m.forward(x);
        y.backward(T(c.g!, d));
        await close(y, c.y!, `case ${k} training=${training} y`, 5e-5);
        await close(x.grad, c.dx!, `case ${k} training=${training} dx`, 1e-4);
      }
    }
  });

  s(`golden interpolate and adaptive_avg_pool2d (${d})`, async () => {
    for (const c of RESAMPLE as Record<string, Arr & string & boolean & number[]>[]) {
      const x = T(c.x as Arr, d, true);
      const size = c.size as unknown as [number, number] | undefined;
      const sf = c.scale_factor as unknown as number | undefined;
      const y = c.op === 'adaptive_avg_pool2d'
        ? adaptiveAvgPool2d(x, size!)
        : interpolate(x, { ...(sf ? { scaleFactor: sf } : { size }), mode: c.op as 'bilinear' | 'nearest', alignCorners: c.op === 'bilinear' ? (c.align_corners as boolean) : undefined });
      y.backward(T(c.g as Arr, d));
      const what = `${c.op}${c.op === 'bilinear' ? ` align_corners=${c.align_corners}` : ''} ${(c.x as Arr).shape} -> ${sf ? `x${sf}` : size}`;
      await close(y, c.y as Arr, `${what} y`, 1e-5);
      await close(x.grad, c.dx as Arr, `${what} dx`, 1e-5);
    }
  });

  s(`nn layers: state-dict keys and parameters (${d})`, async () => {
    const ln = new LayerNorm(6, 1e-12, { device: d });
    assert.equal([...ln.stateDict().keys()], ['weight', 'bias']);
    assert.equal(Array.from(await ln.weight!.toArray()), [1, 1, 1, 1, 1, 1]);
    const bn = new BatchNorm2d(3, { device: d });
    assert.equal([...bn.stateDict().keys()], ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    assert.equal(bn.parameters().length, 2);
    assert.equal([...bn.num_batches_tracked!.shape], []);
    assert.is(bn.num_batches_tracked!.dtype, 'i32');
    assert.equal([...new InstanceNorm1dTokens().stateDict().keys()], []);
    ln.dispose();
    bn.dispose();
  });
}

if (devices.includes('webgpu')) {
  s('BatchNorm2d running statistics update on the device matches the cpu over steps', async () => {
    const mods = devices.map((d) => new BatchNorm2d(4, { device: d }));
    for (let step = 0; step < 3; step++) {
      const data = new F.Generator(step + 1).uniform(2 * 4 * 6 * 6, -1, 2);
      F.scope(() => { for (const [k, m] of mods.entries()) m.forward(F.fromArray(data, [2, 4, 6, 6], { device: devices[k] })); });
    }
    for (const key of ['running_mean', 'running_var', 'num_batches_tracked'] as const) {
      const ref = await mods[0]![key]!.toArray();
      await close(mods[1]![key], Array.from(ref), key, 1e-6);
    }
    assert.is(await mods[1]!.num_batches_tracked!.item(), 3);
  });

  s('the gather backward finds every tap: random size pairs, all modes, vs the scatter-form cpu reference', async () => {
    const r = new F.Generator(11);
    const pick = (lo: number, hi: number) => lo + Math.floor(r.uniform(1, 0, 1)[0]! * (hi - lo + 1));
    for (let trial = 0; trial < 24; trial++) {
      const [inH, inW, outH, outW] = [pick(1, 30), pick(1, 30), pick(1, 90), pick(1, 90)];
      const xData = r.uniform(inH * inW, -1, 1);
      const gData = r.uniform(outH * outW, -1, 1);
      for (const mode of ['bilinear-ac', 'bilinear', 'nearest', 'area'] as const) {
        const grads: ArrayLike<number>[] = [];
        for (const d of devices) {
          const x = F.fromArray(xData, [1, 1, inH, inW], { device: d, requiresGrad: true });
          const y = mode === 'area' ? adaptiveAvgPool2d(x, [outH, outW])
            : interpolate(x, { size: [outH, outW], mode: mode === 'nearest' ? 'nearest' : 'bilinear', alignCorners: mode === 'nearest' ? undefined : mode === 'bilinear-ac' });
          y.backward(F.fromArray(gData, [1, 1, outH, outW], { device: d }));
          grads.push(await x.grad!.toArray());
        }
        await close(F.fromArray(grads[1]!, [grads[1]!.length], { device: 'cpu' }), Array.from(grads[0]!), `${mode} ${inH}x${inW} -> ${outH}x${outW}`, 1e-5);
      }
    }
  });

  s('the gather backward is deterministic (bitwise equal on rerun)', async () => {
    const x = F.fromArray(new F.Generator(3).uniform(2 * 3 * 30 * 30, -1, 1), [2, 3, 30, 30], { device: 'webgpu', requiresGrad: true });
    const g = F.fromArray(new F.Generator(4).uniform(2 * 3 * 120 * 120, -1, 1), [2, 3, 120, 120], { device: 'webgpu' });
    const grads: Float32Array[] = [];
    for (let r = 0; r < 2; r++) {
      interpolate(x, { size: [120, 120], mode: 'bilinear', alignCorners: true }).backward(g);
      grads.push((await x.grad!.toArray()) as Float32Array);
      x.grad!.dispose();
      x.grad = null;
    }
    assert.ok(grads[0]!.every((v, i) => Object.is(v, grads[1]![i])));
  });
}

for (const d of devices) {
  s(`no tensor or storage outlives a training step (${d})`, async () => {
    const bn = new BatchNorm2d(4, { device: d });
    const ln = new LayerNorm(4, 1e-5, { device: d });
    const x = F.fromArray(new F.Generator(2).uniform(2 * 4 * 6 * 8, -1, 1), [2, 4, 6, 8], { device: d, requiresGrad: true });
    const step = () => F.scope(() => {
      const h = bn.forward(x);
      const t = instanceNormTokens(ln.forward(F.permute(F.reshape(h, [2, 4, 48]), [0, 2, 1])));
      const up = interpolate(F.reshape(F.permute(t, [0, 2, 1]), [2, 4, 6, 8]), { size: [12, 16], mode: 'bilinear', alignCorners: true });
      const loss = F.sum(F.mul(adaptiveAvgPool2d(up, 3), interpolate(up, { size: [3, 3], mode: 'nearest' })));
      loss.backward();
    });
    step();
    for (const p of [x, ...bn.parameters(), ...ln.parameters()]) { p.grad?.dispose(); p.grad = null; }
    const before = { ...F.memoryStats };
    step();
    for (const p of [x, ...bn.parameters(), ...ln.parameters()]) { assert.ok(p.grad, 'gradient reached every parameter'); p.grad!.dispose(); p.grad = null; }
    assert.equal({ ...F.memoryStats }, before);
    bn.dispose();
    ln.dispose();
    x.dispose();
  });
}

s('manifest fragments: every op has CPU and WGSL forward and backward, and a case', () => {
  const tested = new Set(CASES_NORM.map((c) => c.op));
  const names = new Set<string>();
  for (const e of [...MANIFEST_NORM, ...MANIFEST_RESAMPLE]) {
    assert.ok(typeof e.cpu === 'function' && typeof e.wgsl === 'function', `${e.name}: forward pieces`);
    assert.ok(typeof e.backward?.cpu === 'function' && typeof e.backward?.wgsl === 'function', `${e.name}: backward pieces`);
    assert.ok(tested.has(e.name), `${e.name}: no case`);
    names.add(e.name);
  }
  for (const op of tested) assert.ok(names.has(op), `case for unknown op ${op}`);
});

s('errors name the op and the shapes', () => {
  const x = F.zeros([2, 3, 4], 'f32', 'cpu');
  assert.throws(() => layerNorm(x, F.zeros([5], 'f32', 'cpu'), F.zeros([5], 'f32', 'cpu')), /layerNorm: weight of shape \(5\) does not match 4 features of input \(2, 3, 4\)/);
  assert.throws(() => batchNorm2d(x), /batchNorm2d: expected input \(N, C, H, W\), found \(2, 3, 4\)/);
  assert.throws(() => batchNorm2d(F.zeros([1, 3, 1, 1], 'f32', 'cpu'), { training: true }), /batchNorm2d: expected more than 1 value per channel when training/);
  assert.throws(() => instanceNormTokens(F.zeros([2, 3], 'f32', 'cpu')), /instanceNormTokens: expected tokens \(B, N, C\), found \(2, 3\)/);
  assert.throws(() => interpolate(x, { size: 4, mode: 'bilinear' }), /interpolate\(bilinear\): expected input \(N, C, H, W\), found \(2, 3, 4\)/);
  assert.throws(() => adaptiveAvgPool2d(F.zeros([1, 1, 4, 4], 'f32', 'cpu'), 0), /adaptiveAvgPool2d: output size \(0, 0\)/);
});

s.run();
