// `fianet bench [--only a,b] [--json]`: one JSON object per line, {bench, device, ms, gflops | gbps, ...}.
import * as F from '../index.ts';
import { ENGINE_BENCHES, type BenchResult } from '../../bench/engine.ts';
import { CONV_BENCHES } from '../../bench/conv.ts';
import { NORM_BENCHES } from '../../bench/norm.ts';
import { TMEM_BENCHES } from '../../bench/tmem.ts';
import { ATTENTION_BENCHES } from '../../bench/attention.ts';
import { FIANET_BENCHES, HEAVY_BENCHES } from '../../bench/fianet.ts';

/**
 * Runs the selected benchmarks and prints one line (or JSON object) each. With rounds > 1 the whole selection
 * runs that many times, interleaved so that a slow spell of the machine hits every benchmark alike, and each
 * benchmark reports its median round (by ms) with ms_min and ms_max over the rounds.
 */
export async function runBench(only: string[] | null, json: boolean, device: F.DeviceName, all = false, rounds = 1): Promise<BenchResult[]> {
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`bench: --rounds must be a positive integer, found ${rounds}`);
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
  const runs = new Map<string, BenchResult[]>(names.map((n) => [n, []]));
  for (let round = 0; round < rounds; round++) {
    for (const n of names) {
      const r = await table[n]!(device);
      runs.get(n)!.push(r);
      if (rounds === 1) print(r, json);
    }
  }
  if (rounds === 1) return names.map((n) => runs.get(n)![0]!);
  return names.map((n) => {
    const rs = [...runs.get(n)!].sort((a, b) => a.ms - b.ms);
    const r: BenchResult = { ...rs[Math.floor(rs.length / 2)]!, rounds, ms_min: rs[0]!.ms, ms_max: rs[rs.length - 1]!.ms };
    print(r, json);
    return r;
  });
}

function print(r: BenchResult, json: boolean): void {
  if (json) console.log(JSON.stringify(r));
  else {
    const rate = r.gflops !== undefined ? `${r.gflops.toFixed(1)} GFLOP/s` : r.gbps !== undefined ? `${r.gbps.toFixed(2)} GB/s` : '';
    const extra = Object.entries(r).filter(([k]) => !['bench', 'device', 'ms', 'gflops', 'gbps'].includes(k)).map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toFixed(2) : typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ');
    console.log(`${r.bench.padEnd(22)} ${r.device.padEnd(7)} ${r.ms.toFixed(2).padStart(9)} ms  ${rate.padEnd(16)} ${extra}`);
  }
}
