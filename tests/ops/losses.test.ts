// The regularize, loss and tmem families: every case of cases-losses.ts (WGSL vs CPU reference, float64
// gradcheck), golden PyTorch values (make_losses.py -> losses.json), the fused TMEM kernels against their
// primitive-op compositions, and DropPath's statistics.
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as F from '../../src/index.ts';
import { CASES_LOSSES } from './cases-losses.ts';
import { checkCase, rng, sample, testDevices } from './harness.ts';
import { MANIFEST_REGULARIZE } from '../../src/kernels/regularize/manifest.ts';
import { MANIFEST_LOSS } from '../../src/kernels/loss/manifest.ts';
import { MANIFEST_TMEM } from '../../src/kernels/tmem/manifest.ts';
import { dropPath, dropPathAdd } from '../../src/kernels/regularize/regularize.op.ts';
import { dropPathMask } from '../../src/kernels/regularize/regularize.cpu.ts';
import { DropPath, dropPathRates } from '../../src/nn/regularize.ts';
import { diceLoss, fianetLoss, weightedCrossEntropy2d } from '../../src/kernels/loss/loss.op.ts';
import { pyramidPoolConcat, tmemGate } from '../../src/kernels/tmem/tmem.op.ts';
import { pyramidPoolConcatComposite, tmemGateComposite } from '../../src/kernels/tmem/tmem.compose.ts';

const devices = await testDevices();

/** |got − want| ≤ tol·(|want_i| + max_j |want_j|): relative, with the array's scale as the floor near zero. */
function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= tol * (Math.abs(want[i]!) + scale))) assert.unreachable(`${what}[${i}]: ${got[i]} vs ${want[i]} (tol ${tol})`);
  }
}

const s = suite('losses');

let seed = 5000;
for (const c of CASES_LOSSES) {
  const caseSeed = seed++;
  s(`${c.op}: ${c.label}`, async () => {
    await checkCase(c, caseSeed, devices);
  });
}

s('manifest fragments: every entry has its four pieces and a case', () => {
  const tested = new Set(CASES_LOSSES.map((c) => c.op));
  for (const e of [...MANIFEST_REGULARIZE, ...MANIFEST_LOSS, ...MANIFEST_TMEM]) {
    assert.type(e.cpu, 'function', `${e.name} cpu`);
    assert.type(e.wgsl, 'function', `${e.name} wgsl`);
    assert.type(e.backward?.cpu, 'function', `${e.name} backward cpu`);
    assert.type(e.backward?.wgsl, 'function', `${e.name} backward wgsl`);
    assert.ok(tested.has(e.name), `${e.name}: no case`);
  }
});

// ---- golden PyTorch values ----
const golden = JSON.parse(readFileSync(new URL('../fixtures/golden/losses.json', import.meta.url), 'utf8'));
interface LossGolden { shape: number[]; z: number[]; y: number[]; ce: number; dice: number; total: number; dz: number[]; dz_ce: number[]; dz_dice: number[] }
interface PoolGolden { shapes: number[][]; outSize: [number, number]; xs: number[][]; g: number[]; out: number[]; grads: number[][]; outShape: number[] }
interface GateGolden { fine: number[]; coarse: number[]; local: number[]; global: number[]; act: number[]; g: number[]; out: number[]; dLocal: number[]; dGlobal: number[]; dAct: number[] }

for (const d of devices) {
  (golden.loss as LossGolden[]).forEach((gd, k) => {
    s(`golden ${d}: fianetLoss ${gd.shape.join('x')} (CE, Dice, total, dz)`, async () => {
      const [B, , H, W] = gd.shape as [number, number, number, number];
      const y = F.fromArray(Int32Array.from(gd.y), [B, H, W], { device: d });
      const grad = async (fn: (z: F.Tensor) => F.Tensor) => {
        const z = F.fromArray(gd.z, gd.shape, { device: d, requiresGrad: true });
        const l = fn(z);
        l.backward();
        return { v: await l.item(), g: await z.grad!.toArray() };
      };
      let parts: F.Tensor[] = [];
      const total = await grad((z) => {
        const r = fianetLoss(z, y);
        parts = [r.ce, r.dice];
        return r.loss;
      });
      const ce = await grad((z) => weightedCrossEntropy2d(z, y));
      const dice = await grad((z) => diceLoss(z, y));
      close([total.v, ce.v, dice.v], [gd.total, gd.ce, gd.dice], 1e-5, `loss ${k} values`);
      // The components are views of the stats the forward wrote: read after the fact, no extra kernel.
      close([await parts[0]!.item(), await parts[1]!.item()], [gd.ce, gd.dice], 1e-5, `loss ${k} components`);
      close(total.g, gd.dz, 1e-5, `loss ${k} dz`);
      close(ce.g, gd.dz_ce, 1e-5, `loss ${k} dz_ce`);
      close(dice.g, gd.dz_dice, 1e-5, `loss ${k} dz_dice`);
    });
  });

  (golden.pool as PoolGolden[]).forEach((gd, k) => {
    s(`golden ${d}: pyramidPoolConcat case ${k} = cat(adaptive_avg_pool2d)`, async () => {
      const xs = gd.shapes.map((sh, i) => F.fromArray(gd.xs[i]!, sh, { device: d, requiresGrad: true }));
      const out = pyramidPoolConcat(xs, gd.outSize);
      assert.equal(out.shape, gd.outShape);
      close(await out.toArray(), gd.out, 1e-5, `pool ${k} out`);
      out.backward(F.fromArray(gd.g, gd.outShape, { device: d }));
      for (let i = 0; i < xs.length; i++) close(await xs[i]!.grad!.toArray(), gd.grads[i]!, 1e-5, `pool ${k} grad ${i}`);
    });
  });

  (golden.gate as GateGolden[]).forEach((gd, k) => {
    s(`golden ${d}: tmemGate ${gd.fine.join('x')} from ${gd.coarse.slice(2).join('x')} = interpolate + hardsigmoid`, async () => {
      const t = (v: number[], sh: number[]) => F.fromArray(v, sh, { device: d, requiresGrad: true });
      const [l, g, a] = [t(gd.local, gd.fine), t(gd.global, gd.coarse), t(gd.act, gd.coarse)];
      const out = tmemGate(l, g, a);
      close(await out.toArray(), gd.out, 1e-5, `gate ${k} out`);
      out.backward(F.fromArray(gd.g, gd.fine, { device: d }));
      close(await l.grad!.toArray(), gd.dLocal, 1e-5, `gate ${k} dLocal`);
      close(await g.grad!.toArray(), gd.dGlobal, 1e-5, `gate ${k} dGlobal`);
      close(await a.grad!.toArray(), gd.dAct, 1e-5, `gate ${k} dAct`);
    });
  });
}

// ---- fused TMEM kernels vs their primitive-op compositions ----
async function compare(d: F.DeviceName, shapes: number[][], fused: (xs: F.Tensor[]) => F.Tensor, composite: (xs: F.Tensor[]) => F.Tensor, what: string) {
  const r = rng(77);
  const datas = shapes.map((shape) => sample({ shape }, r));
  const run = async (fn: (xs: F.Tensor[]) => F.Tensor) => {
    const xs = shapes.map((sh, i) => F.fromArray(datas[i]!, sh, { device: d, requiresGrad: true }));
    const out = fn(xs);
    const up = sample({ shape: [...out.shape] }, rng(78));
    out.backward(F.fromArray(up, out.shape, { device: d }));
    return { y: await out.toArray(), g: await Promise.all(xs.map((x) => x.grad!.toArray())) };
  };
  const a = await run(fused);
  const b = await run(composite);
  close(a.y, b.y, 1e-5, `${what} forward`);
  a.g.forEach((g, i) => close(g, b.g[i]!, 1e-5, `${what} grad ${i}`));
}

for (const d of devices) {
  s(`fused vs composition ${d}: pyramid pooling (exact factors and overlapping cells)`, async () => {
    await compare(d, [[2, 3, 16, 16], [2, 4, 8, 8], [2, 2, 4, 4], [2, 5, 2, 2]], (xs) => pyramidPoolConcat(xs), (xs) => pyramidPoolConcatComposite(xs, 2, 2), 'pool');
    await compare(d, [[1, 2, 7, 5], [1, 3, 4, 9]], (xs) => pyramidPoolConcat(xs, [3, 4]), (xs) => pyramidPoolConcatComposite(xs, 3, 4), 'pool odd');
  });
  s(`fused vs composition ${d}: gate at x8, x4, x2, x1`, async () => {
    for (const f of [8, 4, 2, 1]) {
      await compare(d, [[1, 3, 3 * f, 2 * f], [1, 3, 3, 2], [1, 3, 3, 2]], ([l, g, a]) => tmemGate(l!, g!, a!), ([l, g, a]) => tmemGateComposite(l!, g!, a!), `gate x${f}`);
    }
  });
}

// ---- DropPath statistics and semantics ----
s('dropPath: the per-sample mask is identical on every device and replayed by the backward', async () => {
  const B = 512;
  const p = 0.3;
  const key = new F.Generator(42).nextKey();
  const mask = dropPathMask(key, B, p);
  for (const d of devices) {
    const x = F.fromArray(new Float32Array(B * 6).fill(1), [B, 2, 3], { device: d, requiresGrad: true });
    const y = await dropPath(x, p, true, new F.Generator(42)).toArray();
    const yy = dropPath(x, p, true, new F.Generator(42));
    F.sum(yy).backward();
    const g = await x.grad!.toArray();
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < 6; j++) {
        const want = mask[b] ? 1 / (1 - p) : 0;
        assert.ok(Math.abs(y[b * 6 + j]! - want) < 1e-6, `${d}: sample ${b} element ${j}: ${y[b * 6 + j]} vs ${want}`);
        assert.ok(Math.abs(g[b * 6 + j]! - want) < 1e-6, `${d}: grad of sample ${b}`);
      }
    }
  }
});

s('dropPath: kept fraction ≈ 1 − p over many samples, survivors scaled by 1/(1 − p)', async () => {
  for (const p of [0.013, 0.3, 0.7]) {
    const B = 20000;
    for (const d of devices) {
      const x = F.fromArray(new Float32Array(B).fill(2), [B, 1], { device: d });
      const y = await dropPath(x, p, true, new F.Generator(9)).toArray();
      const kept = y.filter((v) => v !== 0);
      const frac = kept.length / B;
      assert.ok(Math.abs(frac - (1 - p)) < 5 * Math.sqrt((p * (1 - p)) / B) + 1e-9, `${d} p=${p}: kept ${frac}`);
      assert.ok(kept.every((v) => Math.abs(v - 2 / (1 - p)) < 1e-5), `${d} p=${p}: scale`);
      let mean = 0;
      for (const v of y) mean += v / B;
      assert.ok(Math.abs(mean - 2) < 0.1, `${d} p=${p}: E[y] = ${mean}`);
    }
  }
  // Successive calls draw fresh keys: two masks from one generator differ.
  const g = new F.Generator(3);
  const x = F.fromArray(new Float32Array(256).fill(1), [256, 1], { device: 'cpu' });
  const a = await dropPath(x, 0.5, true, g).toArray();
  const b = await dropPath(x, 0.5, true, g).toArray();
  assert.ok(a.some((v, i) => v !== b[i]), 'two calls gave the same mask');
});

s('dropPath: identity in eval mode and at p = 0; DropPath module and schedule', async () => {
  for (const d of devices) {
    const x = F.fromArray([1, 2, 3, 4, 5, 6], [3, 2], { device: d });
    assert.is(dropPath(x, 0.5, false), x);
    assert.is(dropPath(x, 0, true), x);
    const m = new DropPath(0.5, new F.Generator(1));
    m.eval();
    assert.is(m.forward(x), x);
    assert.equal(Array.from(await m.addTo(x, x).toArray()), [2, 4, 6, 8, 10, 12]);
    m.train();
    const y = await m.forward(x).toArray();
    for (let b = 0; b < 3; b++) assert.ok((y[2 * b] === 0) === (y[2 * b + 1] === 0), 'mask is per sample');
    // The fused residual form equals residual + dropPath(branch) under the same key.
    const r = F.fromArray([1, 1, 1, 1, 1, 1], [3, 2], { device: d });
    const fused = await dropPathAdd(r, x, 0.5, true, new F.Generator(8)).toArray();
    const plain = await F.add(r, dropPath(x, 0.5, true, new F.Generator(8))).toArray();
    close(fused, plain, 1e-6, `${d} dropPathAdd`);
  }
  // f16 activations (where the adapter has shader-f16): same mask, values within f16 rounding.
  for (const d of devices.filter((x) => x === 'cpu' || F.getRuntime().hasF16)) {
    const data = Array.from({ length: 24 }, (_, i) => (i % 7) - 3);
    const h = await dropPath(F.fromArray(data, [8, 3], { device: d, dtype: 'f16' }), 0.4, true, new F.Generator(5)).toArray();
    const f = await dropPath(F.fromArray(data, [8, 3], { device: d }), 0.4, true, new F.Generator(5)).toArray();
    close(h, f, 2e-3, `${d} f16 dropPath`);
  }
  const rates = dropPathRates(24, 0.3);
  close([rates[0]!, rates[1]!, rates[2]!, rates[23]!], [0, 0.3 / 23, 0.6 / 23, 0.3], 1e-12, 'schedule');
  assert.throws(() => dropPath(F.fromArray([1], [1], { device: 'cpu' }), 1), /dropPath: p must be in \[0, 1\)/);
});

s('a loss + TMEM + drop-path step frees every temporary (live tensors and storages return to baseline)', async () => {
  for (const d of devices) {
    const z = F.keep(F.fromArray(new Float32Array(2 * 2 * 8 * 8).map((_, i) => Math.sin(i)), [2, 2, 8, 8], { device: d, requiresGrad: true }));
    const y = F.keep(F.fromArray(Int32Array.from({ length: 128 }, (_, i) => i % 2), [2, 8, 8], { device: d }));
    const before = { ...F.memoryStats };
    const logged = F.scope(() => {
      const r = fianetLoss(z, y);
      const pooled = pyramidPoolConcat([z, dropPath(z, 0.3, true, new F.Generator(2))], [2, 2]);
      const gated = tmemGate(z, F.slice(pooled, 1, 0, 2), F.slice(pooled, 1, 2, 4));
      F.add(r.loss, F.mean(gated)).backward();
      return F.keep(r.ce);
    });
    assert.ok(Number.isFinite(await logged.item()));
    logged.dispose();
    z.grad?.dispose();
    z.grad = null;
    assert.equal({ ...F.memoryStats }, before, `${d}: memory stats`);
    z.dispose();
    y.dispose();
  }
});

s('loss and tmem: bad input throws naming the op and the shapes', () => {
  const z = F.fromArray(new Float32Array(2 * 2 * 3 * 3), [2, 2, 3, 3], { device: 'cpu' });
  const yBad = F.fromArray(new Int32Array(2 * 3 * 4), [2, 3, 4], { device: 'cpu' });
  assert.throws(() => fianetLoss(z, yBad), /segLoss: expected logits \(B, C, H, W\) and labels \(B, H, W\), found \(2, 2, 3, 3\) and \(2, 3, 4\)/);
  const yF = F.fromArray(new Float32Array(18), [2, 3, 3], { device: 'cpu' });
  assert.throws(() => diceLoss(z, yF), /diceLoss: labels must be i32 or u32/);
  const yOut = F.fromArray(Int32Array.from({ length: 18 }, (_, i) => (i === 5 ? 2 : 0)), [2, 3, 3], { device: 'cpu' });
  assert.throws(() => fianetLoss(z, yOut), /label 2 at pixel 5 is outside \[0, 2\)/);
  const a = F.fromArray(new Float32Array(8), [1, 2, 2, 2], { device: 'cpu' });
  const b = F.fromArray(new Float32Array(6), [1, 3, 1, 2], { device: 'cpu' });
  assert.throws(() => tmemGate(a, b, b), /tmemGate: expected local \(B, C, H, W\).*global \(1, 3, 1, 2\)/);
  assert.throws(() => pyramidPoolConcat([a, F.fromArray(new Float32Array(4), [2, 2, 1, 1], { device: 'cpu' })]), /pyramidPoolConcat: expected .* \(1, 2, 2, 2\) f32, \(2, 2, 1, 1\) f32/);
});

s.run();
