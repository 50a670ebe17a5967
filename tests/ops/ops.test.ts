// Every op case: WGSL vs CPU reference (forward and backward) when an adapter exists, and float64 gradcheck
// of the CPU reference.
import { suite } from 'uvu';
import { CASES } from './cases.ts';
import { checkCase, testDevices } from './harness.ts';
import { setMatmulVariant } from '../../src/kernels/matmul/matmul.op.ts';

const devices = await testDevices();

const families = new Map<string, typeof CASES>();
for (const c of CASES) {
  if (!families.has(c.op)) families.set(c.op, []);
  families.get(c.op)!.push(c);
}

const s = suite('ops');
let seed = 1;
for (const [op, cs] of families) {
  for (const c of cs) {
    const caseSeed = seed++;
    s(`${op}: ${c.label}`, async () => {
      await checkCase(c, caseSeed, devices);
    });
  }
}
if (devices.includes('webgpu')) {
  for (const variant of ['naive', 'subgroup', 'tiled'] as const) {
    for (const c of CASES.filter((x) => x.op === 'matmul')) {
      s(`matmul variant ${variant}: ${c.label}`, async () => {
        setMatmulVariant(variant);
        try {
          await checkCase({ ...c, gradcheck: false }, 999, devices);
        } finally {
          setMatmulVariant(null);
        }
      });
    }
  }
}
s.run();
