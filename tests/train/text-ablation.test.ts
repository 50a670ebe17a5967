// The text-swap diagnostic gives every sample another target's expression from its image (or, for single-target
// images, from elsewhere), keyed by (ref, sentence) so copies of records made by loaders still match.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sampleKey, swappedSentences } from '../../src/train/text-ablation.ts';
import type { SampleRecord } from '../../src/data/types.ts';

const rec = (refId: number, imageId: number, sentence: string): SampleRecord => ({
  dataset: 'rrsisd', split: 'val', refId, imageId, annId: refId, sentId: refId, sentence, category: 'vehicle', imagePath: '',
});

test('expressions are exchanged between targets of the same image, never kept', () => {
  const rs = [rec(1, 10, 'the red car'), rec(2, 10, 'the blue car'), rec(3, 10, 'the white car'), rec(4, 11, 'the ship'), rec(5, 12, 'the tank')];
  const m = swappedSentences(rs, 1);
  for (const r of rs) {
    const s = m.get(sampleKey({ ...r }))!;
    assert.ok(s, `no swap for ${r.refId}`);
    assert.is.not(s, r.sentence);
    if (r.imageId === 10) assert.ok(['the red car', 'the blue car', 'the white car'].includes(s), s);
  }
  assert.equal(swappedSentences(rs, 1), m, 'seeded');
});

test.run();
