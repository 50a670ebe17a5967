// Waiting on the device without taking the CPU from it.
//
// Dawn's Node binding settles its promises (mapAsync, onSubmittedWorkDone) by polling its event queue from
// setImmediate callbacks that re-arm until nothing is pending: the main thread spins for the whole wait. On
// lavapipe the "GPU" is worker threads on the same cores, so the spin takes a core from the very kernels it
// waits for. While a wait is in flight on a software adapter, the global setImmediate the binding looks up is
// swapped for one that polls at once a few times (short waits stay short), then sleeps between polls, longer
// each time up to a millisecond, and the original is restored when the last wait settles. Other code calling
// the global setImmediate during a wait is paced the same way; Node's own internals do not go through it.

// Measured on a 2-core machine, interleaved in one process, spinning vs this: conv3x3 64->64 forward 59.1 ->
// 30.3 ms, the 64x144x32x144 batched product 6.0 -> 3.3 ms, a fianet-tiny training step 169 -> 160 ms (a stream
// of small dispatches, where a spinning core also kept wake-ups fast: no loss there). FIANET_WAIT=spin restores
// the binding's own polling.

/** Polls at full speed before sleeping between them. */
const FAST_POLLS = 16;
/** First and longest sleep between polls (ms); each sleep doubles the last. */
const FIRST_SLEEP_MS = 0.05;
const MAX_SLEEP_MS = 1;

let inFlight = 0;
let polls = 0;
let sleepMs = FIRST_SLEEP_MS;
let original: typeof setImmediate | null = null;
const cell = new Int32Array(new SharedArrayBuffer(4));

const patient = ((fn: (...args: unknown[]) => void, ...args: unknown[]) => {
  if (++polls > FAST_POLLS) {
    Atomics.wait(cell, 0, 0, sleepMs); // a plain sleep: nothing ever notifies the cell
    sleepMs = Math.min(MAX_SLEEP_MS, sleepMs * 2);
  }
  return original!(fn, ...args);
}) as unknown as typeof setImmediate;

/** Awaits `start()`; with `yieldCpu`, Dawn's polling sleeps between checks instead of spinning. */
export async function waitForDevice<T>(start: () => Promise<T>, yieldCpu: boolean): Promise<T> {
  if (!yieldCpu || process.env.FIANET_WAIT === 'spin') return start();
  if (inFlight++ === 0) {
    original = globalThis.setImmediate;
    polls = 0;
    sleepMs = FIRST_SLEEP_MS;
    globalThis.setImmediate = patient;
  }
  try {
    return await start();
  } finally {
    if (--inFlight === 0) {
      globalThis.setImmediate = original!;
      original = null;
    }
  }
}
