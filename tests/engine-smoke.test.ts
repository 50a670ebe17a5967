import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as F from '../src/index.ts';

test('cpu + webgpu basics', async () => {
  await F.initWebGPU();
  for (const device of ['cpu', 'webgpu'] as const) {
    const a = F.fromArray([1, 2, 3, 4, 5, 6], [2, 3], { device, requiresGrad: true });
    const b = F.fromArray([10, 20, 30], [3], { device });
    const c = F.mul(F.add(a, b), F.permute(F.expand(F.fromArray([1, 2], [2, 1], { device }), [2, 3]), [0, 1]));
    const s = F.sum(F.gelu(c));
    assert.equal(Array.from(await c.toArray()), [11, 22, 33, 28, 50, 72]);
    s.backward();
    console.log(device, await s.item(), Array.from(await a.grad!.toArray()));
    const t = F.transpose(a, 0, 1);
    console.log(Array.from(await t.toArray()), Array.from(await F.max(t, 1).toArray()), Array.from(await F.argmax(t, 0).toArray()));
    const r = F.roll(F.fromArray([0, 1, 2, 3, 4], [5], { device }), 2, 0);
    console.log(Array.from(await r.toArray()), Array.from(await F.pad(F.fromArray([1, 2], [1, 2], { device }), [1, 1, 1, 0], 9).toArray()));
  }
});

test('copies longer than 65535 workgroups along one dim (paper-size contiguous copies)', async () => {
  await F.initWebGPU();
  const n = 65535 * 64 + 1000;
  const host = Float32Array.from({ length: n + 1 }, (_, i) => (i * 7) % 1013);
  const x = F.fromArray(host, [n + 1], { device: 'webgpu' });
  const y = F.compact(F.slice(x, 0, 1)); // offset view -> a dense copy of n elements
  const got = await y.toArray();
  assert.is(got.length, n);
  for (const i of [0, 1, 4_194_239, 4_194_240, n - 1]) assert.is(got[i], host[i + 1], `element ${i}`);
});
test.run();
