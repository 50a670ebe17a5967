// The whole model past the storage-binding limit (split.ts): fianet-tiny at batch 8, 128x128, run once as usual
// and once with the binding limit lowered below its large activations (but above its largest weight, which
// must fit whole), must give the same logits and parameter gradients: every op on the way splits or windows.
// Two unsplit runs must agree bit for bit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as F from '../../src/index.ts';
import { loadFianetConfig } from '../../src/config/index.ts';
import { FIANet } from '../../src/models/fianet/model.ts';

let gpu = false;
try { await F.initWebGPU(); gpu = true; } catch { /* cpu only */ }

test('fianet-tiny forward and backward under a 400 KB binding limit match the unsplit run', async () => {
  if (!gpu) return;
  const rt = F.getRuntime();
  // A 3072-word vocabulary keeps the largest weight (the word embeddings) at 393 KB, under the limit.
  const c = loadFianetConfig('configs/synthetic/fianet-tiny.yaml', ['model.text.vocab_size=3072']);
  const [B, S, L] = [8, 128, c.data.text_length];
  const ids = Int32Array.from({ length: B * L }, (_, i) => (i % L < 6 ? 1000 + ((i * 37) % 2000) : 0));
  const masks = [(v: number) => v !== 0, (_: number, j: number) => j === 2 || j === 3, (_: number, j: number) => j >= 3 && j < 6];
  const run = async (limit: number | null) => {
    const m = new FIANet(c.model, { device: 'webgpu', seed: 1 });
    rt.setBindingLimit(limit);
    const d0 = rt.dispatches;
    try {
      const z = F.scope(() => {
        const t = (a: Int32Array) => F.fromArray(a, [B, L], { device: 'webgpu', dtype: 'i32' });
        const [mC, mG, mS] = masks.map((f) => t(Int32Array.from(ids, (v, i) => (f(v, i % L) ? 1 : 0))));
        const x = F.fromArray(new F.Generator(5).normal(B * 3 * S * S), [B, 3, S, S], { device: 'webgpu' });
        const z = m.forward(x, t(ids), mC!, mG!, mS!);
        z.backward(F.fromArray(new F.Generator(9).uniform(z.size, -1, 1), z.shape, { device: 'webgpu' }));
        return F.keep(z);
      });
      const grads = new Map<string, Float32Array>();
      for (const [k, p] of m.namedParameters()) if (p.grad) grads.set(k, (await p.grad.toArray()) as Float32Array);
      const out = { z: (await z.toArray()) as Float32Array, grads, dispatches: rt.dispatches - d0 };
      z.dispose();
      m.dispose();
      return out;
    } finally {
      rt.setBindingLimit(null);
    }
  };
  const whole = await run(null);
  // Run to run the same inputs give the same bits (no kernel reads uninitialized memory or races): without
  // this, a mismatch below could be either; an H200 once exceeded the tolerance below where lavapipe passes.
  const again = await run(null);
  assert.equal(again.z, whole.z, 'logits differ between two identical runs');
  for (const [k, g] of whole.grads) assert.equal(again.grads.get(k), g, `${k}: gradient differs between two identical runs`);
  const split = await run(400_000);
  assert.ok(split.dispatches > whole.dispatches * 1.2, `split run: ${split.dispatches} dispatches vs ${whole.dispatches}`);
  let global = 0;
  for (const g of whole.grads.values()) for (const v of g) global = Math.max(global, Math.abs(v));
  const close = (what: string, a: Float32Array, b: Float32Array, floor: number) => {
    let scale = 0;
    for (const v of a) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < a.length; i++) {
      // Pieces sum in a different order (partial reductions): rounding-level differences only.
      if (Math.abs(a[i]! - b[i]!) > 1e-4 * scale + floor) assert.unreachable(`${what}[${i}]: ${a[i]} unsplit vs ${b[i]} split (max |v| ${scale})`);
    }
  };
  close('logits', whole.z, split.z, 1e-6);
  assert.equal([...whole.grads.keys()].sort(), [...split.grads.keys()].sort());
  // The floor tied to the model's largest gradient is for the biases whose exact gradient is 0 by construction
  // (FIANET.md §5.7: query biases ahead of a softmax over keys; they carry rounding noise only).
  for (const [k, g] of whole.grads) close(k, g, split.grads.get(k)!, 1e-5 * global);
});

test.run();
