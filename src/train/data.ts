// Datasets for a run: the configured root in its real format, or the built-in synthetic dataset (generated once
// under data.synthetic.dir and reused). Returns records per split and the sample loader.
import path from 'node:path';
import { existsSync } from 'node:fs';
import type { FianetConfig } from '../config/fianet.ts';
import type { SampleRecord, Split } from '../data/types.ts';
import { readRefSegRS, loadSample } from '../data/refsegrs.ts';
import { expandSentences, readRRSISD } from '../data/rrsisd.ts';
import { ensureSynthetic, sceneTag } from '../data/synth/index.ts';

export interface RunData {
  root: string;
  synthetic: boolean;
  splits: Record<Split, SampleRecord[]>;
  loadSample: typeof loadSample;
}

export async function prepareData(cfg: FianetConfig, log: (s: string) => void = () => {}): Promise<RunData> {
  const d = cfg.data;
  let root = d.root;
  let synthetic = false;
  if (root === null) {
    const s = d.synthetic;
    // Non-default scene knobs name their own folder, so datasets never overwrite each other.
    const scene = { objectScale: s.object_scale, maxDistractors: s.max_distractors, attributes: s.attributes };
    const out = path.resolve(s.dir, `${d.dataset}-n${s.n}-s${s.size}${sceneTag(d.dataset, scene)}-seed${s.seed}`);
    const summary = await ensureSynthetic({ format: d.dataset, out, n: s.n, size: s.size, seed: s.seed, scene });
    log(`${summary.reused ? 'reusing' : 'generated'} the synthetic ${d.dataset} dataset at ${summary.root}`);
    root = summary.root;
    synthetic = true;
  } else if (!existsSync(root)) {
    throw new Error(`data.root: ${root} does not exist (set data.root to the dataset folder, or null for the synthetic dataset)`);
  }
  const read = async (split: Split): Promise<SampleRecord[]> =>
    d.dataset === 'rrsisd' ? expandSentences(await readRRSISD(root!, split)) : readRefSegRS(root!, split);
  const splits = { train: await read('train'), val: await read('val'), test: await read('test') };
  for (const s of ['train', 'val'] as const) {
    if (splits[s].length === 0) throw new Error(`${root}: the ${s} split is empty`);
  }
  return { root, synthetic, splits, loadSample };
}
