// Waiting on the device without taking the CPU from it.
//
// Dawn's Node binding settles its promises (mapAsync, onSubmittedWorkDone) by polling its event queue from
// setImmediate callbacks that re-arm until nothing is pending: the main thread spins for the whole wait. On
// lavapipe the "GPU" is worker threads on the same cores, so the spin takes a core from the very kernels it
// waits for. While a wait is in flight on a software adapter, the global setImmediate the binding looks up is
// swapped for one that polls at once a few times from each new wait (short waits stay short), then sleeps
// between polls, longer each time up to a millisecond; the original is restored when the last wait settles.
// Other code calling the global setImmediate during a wait is paced the same way; Node's internals are not.

// The runtime asks for this where yieldsWhileWaiting says so. Measured on a 2-core machine, interleaved in one
// process, spinning vs this: conv3x3 64->64 forward 56.9 -> 29.8 ms, matmul 1024^3 86.4 -> 43.3 ms, bmm
// 64x144x32x144 5.9 -> 3.2 ms, a fianet-tiny training step 168 -> 158 ms. FIANET_WAIT=spin always spins.

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

/** Node's own, for a caller that kept a reference to the pacing function past the wait it was installed for. */
const nodeSetImmediate = globalThis.setImmediate;

const patient = ((fn: (...args: unknown[]) => void, ...args: unknown[]) => {
  if (inFlight > 0 && ++polls > FAST_POLLS) {
    Atomics.wait(cell, 0, 0, sleepMs); // a plain sleep: nothing ever notifies the cell
    sleepMs = Math.min(MAX_SLEEP_MS, sleepMs * 2);
  }
  return (original ?? nodeSetImmediate)(fn, ...args);
}) as unknown as typeof setImmediate;

/** Mean workgroups per dispatch from which a wait on a software adapter sleeps instead of spinning. */
const MIN_GROUPS_TO_YIELD = 4;

/**
 * Whether a wait should sleep between polls: on a software adapter, unless what it waits for (the dispatches
 * and workgroups recorded since the last wait) is a stream of tiny dispatches. lavapipe hands each dispatch
 * from its queue thread to its workers and back; with a core kept busy by the spinning host those hand-offs
 * stay on one core and are quick, while with the host asleep each wakes an idle core (1000 one-workgroup
 * dispatches: 17 us each spinning, 35 us sleeping).
 */
export function yieldsWhileWaiting(softwareAdapter: boolean, dispatches: number, workgroups: number): boolean {
  return softwareAdapter && workgroups >= MIN_GROUPS_TO_YIELD * Math.max(1, dispatches);
}

/** Awaits `start()`; with `yieldCpu`, Dawn's polling sleeps between checks instead of spinning. */
export async function waitForDevice<T>(start: () => Promise<T>, yieldCpu: boolean): Promise<T> {
  if (!yieldCpu || process.env.FIANET_WAIT === 'spin') return start();
  if (inFlight++ === 0) {
    original = globalThis.setImmediate;
    globalThis.setImmediate = patient;
  }
  // Each wait starts polling fast again: the trainer overlaps its loss readbacks, so a wait is often still in
  // flight when the next begins, and without a restart every poll would sleep the longest.
  polls = 0;
  sleepMs = FIRST_SLEEP_MS;
  try {
    return await start();
  } finally {
    if (--inFlight === 0) {
      globalThis.setImmediate = original!;
      original = null;
    }
  }
}
