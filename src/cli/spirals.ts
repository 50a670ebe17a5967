// The engine-only demo (`fianet demo --spirals`): two spirals with an MLP on the default device.
import type { DeviceName } from '../index.ts';
import { trainSpirals } from '../train/spirals.ts';

export async function spiralDemo(device: DeviceName, steps: number): Promise<void> {
  console.log(`training a 2-64-64-2 MLP on two spirals, ${steps} AdamW steps on ${device}`);
  const r = await trainSpirals(device, steps, 0, (s) => console.log(`  ${s}`));
  console.log(`accuracy ${(100 * r.accuracy!).toFixed(1)}% in ${(r.ms / 1000).toFixed(1)} s`);
  if (r.accuracy! < 0.95) process.exitCode = 1;
}
