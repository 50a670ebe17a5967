import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as F from '../src/index.ts';

let gpu = false;
try { await F.initWebGPU(); gpu = true; } catch { /* cpu only */ }
const devices: F.DeviceName[] = gpu ? ['cpu', 'webgpu'] : ['cpu'];
const arr = async (t: F.Tensor) => Array.from(await t.toArray());

test('broadcast, views, gelu backward, max/argmax, roll and pad give hand-checked values', async () => {
  for (const device of devices) {
    const a = F.fromArray([1, 2, 3, 4, 5, 6], [2, 3], { device, requiresGrad: true });
    const b = F.fromArray([10, 20, 30], [3], { device });
    const c = F.mul(F.add(a, b), F.permute(F.expand(F.fromArray([1, 2], [2, 1], { device }), [2, 3]), [0, 1]));
    assert.equal(await arr(c), [11, 22, 33, 28, 50, 72]);
    // gelu(x) = x and gelu'(x) = 1 to f32 precision for x >= 11, so d sum / d a = the row multiplier.
    const s = F.sum(F.gelu(c));
    s.backward();
    assert.is(await s.item(), 216);
    assert.equal(await arr(a.grad!), [1, 1, 1, 2, 2, 2]);
    const t = F.transpose(a, 0, 1);
    assert.equal(await arr(t), [1, 4, 2, 5, 3, 6]);
    assert.equal(await arr(F.max(t, 1)), [4, 5, 6]);
    assert.equal(await arr(F.argmax(t, 0)), [2, 2]);
    assert.equal(await arr(F.roll(F.fromArray([0, 1, 2, 3, 4], [5], { device }), 2, 0)), [3, 4, 0, 1, 2]);
    assert.equal(await arr(F.pad(F.fromArray([1, 2], [1, 2], { device }), [1, 1, 1, 0], 9)), [9, 9, 9, 9, 9, 1, 2, 9]);
  }
});

test('copies longer than 65535 workgroups along one dim (paper-size contiguous copies)', async () => {
  if (!gpu) return;
  const n = 65535 * 64 + 1000;
  const host = Float32Array.from({ length: n + 1 }, (_, i) => (i * 7) % 1013);
  const x = F.fromArray(host, [n + 1], { device: 'webgpu' });
  const y = F.compact(F.slice(x, 0, 1)); // offset view -> a dense copy of n elements
  const got = await y.toArray();
  assert.is(got.length, n);
  for (const i of [0, 1, 4_194_239, 4_194_240, n - 1]) assert.is(got[i], host[i + 1], `element ${i}`);
});

test('uniform slots: many dispatches per submit each read their own slot; a kernel declaring its uniforms elsewhere is refused', async () => {
  if (!gpu) return;
  const rt = F.getRuntime();
  const out = rt.pool.acquire(4 * 300);
  const spec = {
    key: 'test_slot_write',
    bindings: ['rw'] as const,
    code: () => `@group(1) @binding(0) var<uniform> u: vec4<u32>;
@group(0) @binding(1) var<storage, read_write> O: array<u32>;
@compute @workgroup_size(1) fn main() { O[u.x] = u.y; }`,
  };
  // 300 dispatches span several submits (FIANET_FLUSH_EVERY) and reuse ring slots across them.
  for (let i = 0; i < 300; i++) rt.dispatch(spec, [out], new Uint32Array([i, 1000 + i, 0, 0]), [1, 1, 1], 'test');
  const got = new Uint32Array(await rt.read(out, 0, 4 * 300));
  rt.pool.release(out);
  assert.equal(Array.from(got), Array.from({ length: 300 }, (_, i) => 1000 + i));
  const bad = { key: 'test_bad_uniform_group', bindings: ['rw'] as const, code: () => spec.code().replace('@group(1) @binding(0)', '@group(0) @binding(0)') };
  const scratch = rt.pool.acquire(16);
  assert.throws(() => rt.dispatch(bad, [scratch], new Uint32Array(4), [1, 1, 1], 'test'), /test_bad_uniform_group: its uniforms must be declared as @group\(1\)/);
  rt.pool.release(scratch);
});
test('over 65k distinct bind groups in a long run (lavapipe crashes past ~65k live descriptor sets)', async () => {
  if (!gpu) return;
  const rt = F.getRuntime();
  const align = rt.bindingAlignment;
  const n = 80_000;
  const buf = rt.pool.acquire(align * 4096 + 1024);
  const spec = {
    key: 'test_bind_group_churn',
    bindings: ['rw'] as const,
    code: () => `@group(1) @binding(0) var<uniform> u: vec4<u32>;
@group(0) @binding(1) var<storage, read_write> O: array<u32>;
@compute @workgroup_size(1) fn main() { O[0] = O[0] + u.x; }`,
  };
  const before = rt.bindGroupsCreated;
  for (let i = 0; i < n; i++) {
    // A distinct (offset, size) range each time: a new bind group per dispatch.
    const slot = i % 4096;
    rt.dispatch(spec, [{ buffer: buf, offset: slot * align, size: 4 * (1 + Math.floor(i / 4096)) }], new Uint32Array([1, 0, 0, 0]), [1, 1, 1], 'test');
    if (i % 4000 === 3999) await rt.sync(); // a training loop returns to the event loop between steps
  }
  const first = new Uint32Array(await rt.read(buf, 0, 4));
  rt.pool.release(buf);
  assert.ok(rt.bindGroupsCreated - before >= n, `${rt.bindGroupsCreated - before} bind groups created`);
  assert.is(first[0], Math.ceil(n / 4096));
});
test.run();
