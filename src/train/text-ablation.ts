// The text-swap diagnostic: each sample is scored with the expression of a different target from the same image
// (dataset-wide, seeded, when its image has a single target). A model that grounds language loses accuracy; a
// model that ignores the text (a saliency detector) does not.
import type { SampleRecord } from '../data/types.ts';
import { SeededRandom } from '../data/transforms.ts';

/** Keyed by `${refId}:${sentId}` (loaders may hand out copies of the records). */
export const sampleKey = (r: Pick<SampleRecord, 'refId' | 'sentId'>) => `${r.refId}:${r.sentId}`;

export function swappedSentences(records: readonly SampleRecord[], seed = 0): Map<string, string> {
  const byImage = new Map<number, SampleRecord[]>();
  for (const r of records) {
    if (!byImage.has(r.imageId)) byImage.set(r.imageId, []);
    byImage.get(r.imageId)!.push(r);
  }
  const rng = new SeededRandom(seed);
  const out = new Map<string, string>();
  for (const r of records) {
    const others = byImage.get(r.imageId)!.filter((o) => o.refId !== r.refId && o.sentence !== r.sentence);
    if (others.length) out.set(sampleKey(r), rng.pick(others).sentence);
    else {
      let o = r;
      for (let tries = 0; tries < 20 && (o.refId === r.refId || o.sentence === r.sentence); tries++) o = rng.pick(records);
      out.set(sampleKey(r), o.sentence);
    }
  }
  return out;
}
