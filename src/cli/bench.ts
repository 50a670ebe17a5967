// `fianet bench [--only a,b] [--json]`: one JSON object per line, {bench, device, ms, gflops | gbps, ...}.
import * as F from '../index.ts';
import { ENGINE_BENCHES, type BenchResult } from '../../bench/engine.ts';
import { CONV_BENCHES } from '../../bench/conv.ts';
import { NORM_BENCHES } from '../../bench/norm.ts';
import { TMEM_BENCHES } from '../../bench/tmem.ts';
import { ATTENTION_BENCHES } from '../../bench/attention.ts';
import { FIANET_BENCHES, HEAVY_BENCHES } from '../../bench/fianet.ts';

export async function runBench(only: string[] | null, json: boolean, device: F.DeviceName, all = false): Promise<BenchResult[]> {
  const table: Record<string, (d: F.DeviceName) => Promise<BenchResult>> = {
    ...ENGINE_BENCHES,
    ...CONV_BENCHES,
    ...NORM_BENCHES,
    ...TMEM_BENCHES,
    ...ATTENTION_BENCHES,
    ...FIANET_BENCHES,
    data_rrsisd: async () => {
      const { benchDataRrsisd } = await import('../data/bench.ts');
      return (await benchDataRrsisd({})) as unknown as BenchResult;
    },
  };
  const names = only ?? Object.keys(table).filter((n) => all || !HEAVY_BENCHES.has(n));
  for (const n of names) if (!table[n]) throw new Error(`bench: unknown benchmark '${n}'; choose from ${Object.keys(table).join(', ')}`);
  const out: BenchResult[] = [];
  for (const n of names) {
    const r = await table[n]!(device);
    out.push(r);
    if (json) console.log(JSON.stringify(r));
    else {
      const rate = r.gflops !== undefined ? `${r.gflops.toFixed(1)} GFLOP/s` : r.gbps !== undefined ? `${r.gbps.toFixed(2)} GB/s` : '';
      const extra = Object.entries(r).filter(([k]) => !['bench', 'device', 'ms', 'gflops', 'gbps'].includes(k)).map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toFixed(2) : typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ');
      console.log(`${r.bench.padEnd(22)} ${r.device.padEnd(7)} ${r.ms.toFixed(2).padStart(9)} ms  ${rate.padEnd(16)} ${extra}`);
    }
  }
  return out;
}
