// Waiting on the device (runtime/gpu-wait.ts): while a wait is in flight the global setImmediate is the pacing
// one, nested waits restore the original only when the last settles, a rejected wait restores it too, and a
// promise settled from setImmediate callbacks (as Dawn's binding settles its own) still completes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitForDevice, yieldsWhileWaiting } from '../src/runtime/gpu-wait.ts';

/** Resolves after n setImmediate round trips, looked up on the global each time (like the binding). */
const polled = (n: number, seen: (typeof setImmediate)[]): Promise<number> => new Promise((resolve) => {
  let left = n;
  const tick = () => {
    seen.push(globalThis.setImmediate);
    if (--left <= 0) resolve(n);
    else globalThis.setImmediate(tick);
  };
  globalThis.setImmediate(tick);
});

test('a wait paces setImmediate and restores it; nested waits restore after the last', async () => {
  const orig = globalThis.setImmediate;
  const seen: (typeof setImmediate)[] = [];
  const inner: (typeof setImmediate)[] = [];
  const outer = waitForDevice(() => polled(40, seen), true); // past the fast polls: it sleeps between them
  assert.is.not(globalThis.setImmediate, orig, 'swapped while the wait is in flight');
  assert.is(await waitForDevice(() => polled(3, inner), true), 3);
  assert.is.not(globalThis.setImmediate, orig, 'still swapped while the outer wait is in flight');
  assert.is(await outer, 40);
  assert.is(globalThis.setImmediate, orig, 'restored after the last wait');
  assert.ok(seen.every((f) => f !== orig) && inner.every((f) => f !== orig), 'every poll went through the pacing function');
});

test('the pacing function kept past its wait still schedules (through Node\'s own)', async () => {
  let kept: typeof setImmediate | null = null;
  await waitForDevice(() => { kept = globalThis.setImmediate; return Promise.resolve(0); }, true);
  assert.is.not(kept, globalThis.setImmediate);
  let ran = 0;
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => kept!(() => { ran++; resolve(); }));
  assert.is(ran, 20);
});

test('a failed wait restores setImmediate; without yieldCpu nothing is swapped', async () => {
  const orig = globalThis.setImmediate;
  try {
    await waitForDevice(() => Promise.reject(new Error('device lost')), true);
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.match((e as Error).message, 'device lost');
  }
  assert.is(globalThis.setImmediate, orig);
  const seen: (typeof setImmediate)[] = [];
  await waitForDevice(() => polled(2, seen), false);
  assert.ok(seen.every((f) => f === orig));
});

test('who sleeps: a software adapter waiting on real kernels, not on a stream of tiny dispatches, nor a GPU', () => {
  assert.ok(yieldsWhileWaiting(true, 3, 2048 + 64 + 9)); // a conv's GEMMs
  assert.not.ok(yieldsWhileWaiting(true, 1000, 1000)); // 1000 one-workgroup element-wise ops
  assert.not.ok(yieldsWhileWaiting(true, 0, 0)); // nothing recorded: spin (the wait is short)
  assert.not.ok(yieldsWhileWaiting(false, 3, 4096)); // a hardware GPU: its host core is not the device's
});

test.run();
