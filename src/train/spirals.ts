// The two-spirals toy task: the engine's end-to-end check (tests) and the interim demo.
import * as F from '../index.ts';

export function spirals(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const g = new F.Generator(seed);
  const u = g.uniform(n);
  const noise = g.normal(2 * n, 0, 0.05);
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const cls = i % 2;
    const t = 0.25 + 3.5 * u[i]!; // the radius grows with the angle: 1.75 turns per arm
    const ang = Math.PI * t + cls * Math.PI;
    x[2 * i] = (t / 3.75) * Math.cos(ang) + noise[2 * i]!;
    x[2 * i + 1] = (t / 3.75) * Math.sin(ang) + noise[2 * i + 1]!;
    y[i] = cls;
  }
  return { x, y };
}

export class MLP extends F.Module {
  readonly fc1: F.Linear;
  readonly fc2: F.Linear;
  readonly fc3: F.Linear;
  constructor(sizes: [number, number, number, number], device: F.DeviceName, seed: number) {
    super();
    const o = { generator: new F.Generator(seed), device };
    this.fc1 = this.registerModule('fc1', new F.Linear(sizes[0], sizes[1], true, o));
    this.fc2 = this.registerModule('fc2', new F.Linear(sizes[1], sizes[2], true, o));
    this.fc3 = this.registerModule('fc3', new F.Linear(sizes[2], sizes[3], true, o));
  }
  forward(x: F.Tensor): F.Tensor {
    return this.fc3.forward(F.tanh(this.fc2.forward(F.relu(this.fc1.forward(x)))));
  }
}

export interface SpiralRun {
  losses: number[];
  accuracy: number | null;
  ms: number;
}

/** Full-batch AdamW on 512 points; `record` losses are read back (the rest of the steps never wait). */
export async function trainSpirals(device: F.DeviceName, steps: number, record = 5, log?: (s: string) => void): Promise<SpiralRun> {
  const data = spirals(512, 4);
  const m = new MLP([2, 64, 64, 2], device, 11);
  const opt = new F.AdamW(m.parameters(), { lr: 1e-2, weightDecay: 1e-4 });
  const x = F.keep(F.fromArray(data.x, [512, 2], { device }));
  const y = F.keep(F.fromArray(data.y, [512], { device }));
  const losses: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const loss = F.scope(() => {
      const l = F.crossEntropy(m.forward(x), y);
      l.backward();
      opt.step();
      opt.zeroGrad();
      return F.keep(l);
    });
    if (i < record || (log && i % 100 === 0)) {
      const v = await loss.item();
      if (i < record) losses.push(v);
      log?.(`step ${i} loss ${v.toFixed(4)}`);
    }
    loss.dispose();
  }
  const pred = F.noGrad(() => F.argmax(m.forward(x), 1));
  const p = Array.from(await pred.toArray());
  const ms = performance.now() - t0;
  const accuracy = p.reduce((acc, v, i) => acc + (v === data.y[i] ? 1 : 0), 0) / 512;
  pred.dispose(); x.dispose(); y.dispose(); opt.dispose(); m.dispose();
  return { losses, accuracy, ms };
}
