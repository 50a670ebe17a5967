// f16 storage: upload/readback, casts both ways and copies (views, permutes) on webgpu match the CPU reference,
// which rounds through Float16Array. Compute stays f32: other ops refuse f16 with a clear error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as F from '../src/index.ts';

let rt: Awaited<ReturnType<typeof F.initWebGPU>> | null = null;
try { rt = await F.initWebGPU(); } catch { /* cpu only */ }

const values = Float32Array.from([0, 1, -1, 0.1, 65504, 1e-5, -3.14159, 2.5e-3, 1234.567, 6.1e-5, -0.333]);

test('cast f32 -> f16 -> f32 rounds like Float16Array, on cpu and webgpu', async () => {
  const ref = Array.from(new F.Float16Array(values));
  const devices: F.DeviceName[] = rt?.hasF16 ? ['cpu', 'webgpu'] : ['cpu'];
  for (const device of devices) {
    const h = F.cast(F.fromArray(values, [values.length], { device }), 'f16');
    assert.is(h.dtype, 'f16');
    const back = await F.cast(h, 'f32').toArray();
    const raw = await h.toArray();
    ref.forEach((r, i) => {
      // WGSL lets the f32->f16 conversion round to either neighbour: allow one f16 ulp, exact elsewhere.
      const ulp = Math.max(2 ** (Math.floor(Math.log2(Math.abs(r) || 2 ** -24)) - 10), 2 ** -24);
      assert.ok(Math.abs(back[i]! - r) <= (device === 'cpu' ? 0 : ulp), `${device} [${i}]: ${back[i]} vs ${r}`);
      assert.ok(Math.abs(raw[i]! - back[i]!) === 0, `${device} toArray of f16 [${i}]`);
    });
  }
});

test('f16 tensors upload, permute and copy on webgpu', async () => {
  if (!rt?.hasF16) return;
  const data = Array.from({ length: 15 }, (_, i) => i * 0.5 - 3);
  const h = F.fromArray(data, [3, 5], { device: 'webgpu', dtype: 'f16' });
  const t = F.contiguous(F.transpose(h, 0, 1));
  const got = Array.from(await t.toArray());
  const want = [0, 1, 2, 3, 4].flatMap((c) => [0, 1, 2].map((r) => data[r * 5 + c]!));
  assert.equal(got, want);
  const odd = F.fromArray([1.5, 2.5, 3.5], [3], { device: 'webgpu', dtype: 'f16' });
  assert.equal(Array.from(await odd.toArray()), [1.5, 2.5, 3.5]);
});

test('compute refuses f16 with a clear error', () => {
  const h = F.cast(F.fromArray([1, 2], [2], { device: 'cpu' }), 'f16');
  assert.throws(() => F.add(h, h), /add: f16 tensors are storage only; cast to f32 first/);
});

test.run();
