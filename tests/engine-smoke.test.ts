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
test.run();
