// `fianet doctor`: adapter, limits, features, chosen kernel variants, and a short self-test of the WGSL
// kernels against the CPU references. With --data, checks a dataset folder instead.
import * as F from '../index.ts';
import { chooseMatmulVariant } from '../kernels/matmul/matmul.op.ts';

async function compare(name: string, build: (d: F.DeviceName) => F.Tensor): Promise<string> {
  const a = await F.scope(() => F.keep(build('cpu'))).toArray();
  const b = await F.scope(() => F.keep(build('webgpu'))).toArray();
  let err = 0;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i]! - b[i]!));
  const ok = err < 1e-3;
  return `  ${ok ? 'ok  ' : 'FAIL'} ${name.padEnd(28)} max |webgpu - cpu| = ${err.toExponential(2)}`;
}

export async function doctorEngine(): Promise<number> {
  console.log(`node ${process.version}, ${process.platform}-${process.arch}`);
  let rt;
  try {
    rt = await F.initWebGPU();
  } catch (e) {
    console.log(`webgpu: unavailable: ${(e as Error).message}`);
    console.log('device: cpu (set FIANET_DEVICE=cpu to silence this)');
    return 1;
  }
  const r = rt.report;
  console.log(`adapter: ${r.vendor} ${r.architecture} ${r.device} ${r.description}${r.isFallbackAdapter ? ' (software)' : ''}`);
  console.log(`features: ${r.features.join(', ')}`);
  console.log('limits:');
  for (const [k, v] of Object.entries(r.limits)) console.log(`  ${k.padEnd(40)} ${v}`);
  console.log(`subgroup size: ${r.subgroupSize || 'n/a'}`);
  console.log(`kernel variants: ${r.variant} (matmul: ${chooseMatmulVariant()})`);
  console.log('self-test (WGSL vs CPU reference):');
  const g = new F.Generator(1);
  const A = g.uniform(37 * 53, -1, 1);
  const B = g.uniform(53 * 29, -1, 1);
  const lines = [
    await compare('matmul 37x53 @ 53x29', (d) => F.matmul(F.fromArray(A, [37, 53], { device: d }), F.fromArray(B, [53, 29], { device: d }))),
    await compare('softmax + gelu', (d) => F.gelu(F.softmax(F.fromArray(A, [37, 53], { device: d })))),
    await compare('sum over axis 0 (transposed)', (d) => F.sum(F.transpose(F.fromArray(A, [37, 53], { device: d }), 0, 1), 0)),
  ];
  lines.forEach((l) => console.log(l));
  return lines.some((l) => l.includes('FAIL')) ? 1 : 0;
}

export async function doctorData(root: string, dataset: 'rrsisd' | 'refsegrs'): Promise<number> {
  const { doctorDataset, formatDoctorReport } = await import('../data/doctor.ts');
  const report = await doctorDataset(root, dataset);
  console.log(formatDoctorReport(report));
  return report.errors.length ? 1 : 0;
}
