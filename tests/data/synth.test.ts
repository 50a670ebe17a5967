import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureSynthetic, generateSynthetic, sceneTag, type SynthSummary } from '../../src/data/synth/index.ts';
import { choosePhrases, denotation, makeRefSegRSScene, phraseMask, phraseText } from '../../src/data/synth/refsegrs-scene.ts';
import { halfLength, makeRrsisdScene, type SceneObject } from '../../src/data/synth/rrsisd-scene.ts';
import { SeededRandom } from '../../src/data/transforms.ts';
import { loadSample, readRefSegRS } from '../../src/data/refsegrs.ts';
import { loadRRSISDSample, readRRSISD } from '../../src/data/rrsisd.ts';
import { SPLITS } from '../../src/data/types.ts';
import { blackBoxesFor, DataLoader } from '../../src/data/loader.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'fianet-synth-'));
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const N = 30, S = 64;
const made: Partial<Record<'rrsisd' | 'refsegrs', SynthSummary>> = {};

// An independent reading of an RRSIS-D expression: parse the words back and count the objects
// of the scene it fits. The generator claims exactly one (the target).
function fits(sentence: string, o: SceneObject, all: readonly SceneObject[]): boolean {
  const rest = sentence.replace(/^(The|A) /, '');
  if (!rest.includes(o.spec.words)) return false;
  const [before, after = ''] = rest.split(o.spec.words);
  const adj = before!.trim().split(' ').filter(Boolean);
  for (const a of adj) if (a !== o.color && a !== o.size) return false;
  const pos = after.trim();
  const rowOk = (w: string) => (w === 'top' || w === 'upper' ? o.row === 0 : w === 'bottom' || w === 'lower' ? o.row === 2 : true);
  const colOk = (w: string) => (w === 'left' ? o.col === 0 : w === 'right' ? o.col === 2 : true);
  if (pos.startsWith('is ')) {
    const m = /^is (on the left of|on the right of|above|below) the (.+)$/.exec(pos);
    if (!m) return false;
    const refs = all.filter((p) => p.spec.words === m[2]);
    if (refs.length !== 1) return false; // "the X" must be definite
    const r = refs[0]!;
    return m[1] === 'on the left of' ? o.row === r.row && o.col < r.col
      : m[1] === 'on the right of' ? o.row === r.row && o.col > r.col
      : m[1] === 'above' ? o.col === r.col && o.row < r.row : o.col === r.col && o.row > r.row;
  }
  if (pos === 'in the middle') return o.row === 1 && o.col === 1;
  const words = pos.replace(/^(on|at) the /, '').split(' ').filter(Boolean);
  return words.every((w) => rowOk(w) && colOk(w));
}

test('RRSIS-D expressions parse back to exactly the target', () => {
  const rng = new SeededRandom(99);
  let withDistractor = 0;
  for (let i = 0; i < 200; i++) {
    const s = makeRrsisdScene(48, rng);
    assert.match(s.sentence, /^(The|A) [a-z]/);
    assert.not.match(s.sentence, /\.$/);
    const hits = s.objects.filter((o) => fits(s.sentence, o, s.objects));
    assert.equal(hits, [s.target], s.sentence);
    if (s.objects.filter((o) => o.spec === s.target.spec).length > 1) withDistractor++;
    assert.ok(s.mask.data.some((v) => v === 1), 'target visible');
  }
  assert.ok(withDistractor > 150, `most scenes have a same-category distractor (${withDistractor})`);
});

test('RefSegRS phrases: lowercase, grammar, mask = union of the denoted objects, modifier matters', () => {
  const rng = new SeededRandom(5);
  for (let i = 0; i < 25; i++) {
    const scene = makeRefSegRSScene(96, rng);
    for (const p of choosePhrases(scene, rng, 3)) {
      const text = phraseText(p);
      assert.match(text, /^[a-z][a-z -]*[a-z]$/);
      const mask = phraseMask(scene, p);
      const ids = new Set(denotation(p, scene.objects));
      let n = 0;
      for (let k = 0; k < mask.data.length; k++) {
        assert.is(mask.data[k] === 1, ids.has(scene.canvas.ids[k]!));
        n += mask.data[k]!;
      }
      assert.ok(n > 0, text);
      if (p.relation) assert.not.equal([...ids], denotation({ noun: p.noun }, scene.objects), `${text} narrows ${p.noun}`);
    }
  }
});

for (const format of ['rrsisd', 'refsegrs'] as const) {
  test(`${format}: generated files load through the real reader`, async () => {
    const out = path.join(tmp, format);
    const s = await generateSynthetic({ format, out, n: N, size: S, seed: 3 });
    made[format] = s;
    assert.is(s.counts.train + s.counts.val + s.counts.test, N);
    const seenIds = new Set<number>();
    const byImage = new Map<string, string[]>();
    for (const split of SPLITS) {
      assert.ok(s.counts[split] > 0, split);
      const recs = format === 'rrsisd' ? await readRRSISD(s.root, split) : readRefSegRS(s.root, split);
      assert.is(recs.length, s.counts[split], split);
      for (const r of recs) {
        seenIds.add(r.refId);
        const smp = format === 'rrsisd' ? await loadRRSISDSample(r as Parameters<typeof loadRRSISDSample>[0]) : await loadSample(r);
        const fg = smp.mask.data.reduce((a, b) => a + b, 0);
        if (format === 'rrsisd') {
          assert.match(r.sentence, /^(The|A) /);
          assert.is(fg === 0, s.emptyMaskIds.includes(r.refId), `mask of ${r.refId}`);
          assert.equal([smp.mask.width, smp.mask.height], [S, S]);
          assert.is(smp.image.width, S);
          assert.is(smp.image.height !== S, s.sizeMismatchIds.includes(r.refId));
        } else {
          assert.match(r.sentence.trim(), /^[a-z][a-z -]*$/);
          assert.ok(fg > 0, `mask of ${r.refId} non-empty`);
          assert.equal([smp.image.width, smp.image.height, smp.mask.width, smp.mask.height], [S, S, S, S]);
        }
        const key = sha(r.imagePath);
        byImage.set(key, [...(byImage.get(key) ?? []), r.sentence.trim()]);
      }
    }
    assert.is(seenIds.size, N);
    // Every target in an image has its own expression.
    for (const sentences of byImage.values()) assert.is(new Set(sentences).size, sentences.length);
    if (format === 'rrsisd') {
      assert.is(s.emptyMaskIds.length, 1);
      assert.ok(s.sizeMismatchIds.length >= 2);
      assert.ok([...seenIds].some((id) => id > 17402), 'sparse ids above 17,402');
      const inst = JSON.parse(readFileSync(path.join(out, 'rrsisd', 'instances.json'), 'utf8'));
      assert.is(inst.categories.length, 20);
      assert.ok('categories_id' in inst.annotations[0]);
    } else {
      assert.ok([...seenIds].some((id) => id > N), 'ids above the sample count');
      assert.ok(![...seenIds].every((id, i, a) => i === 0 || id > a[i - 1]!), 'ids not sorted');
      for (const group of s.duplicateTileIds) {
        const d = readRefSegRS(s.root, 'train').concat(readRefSegRS(s.root, 'val'), readRefSegRS(s.root, 'test')).filter((r) => group.includes(r.refId));
        assert.is(new Set(d.map((r) => r.split)).size, 1, 'a duplicated tile stays in one split');
      }
    }
  });
}

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.match(String(e), re);
    return;
  }
  assert.unreachable(`expected a rejection matching ${re}`);
}

test('RRSIS-D scene knobs: larger objects, fewer distractors, restricted attributes; defaults unchanged', async () => {
  const area = (m: { data: Uint8Array }) => m.data.reduce((a, v) => a + v, 0);
  let base = 0, scaled = 0;
  for (let i = 0; i < 60; i++) {
    const a = makeRrsisdScene(64, new SeededRandom(1000 + i));
    const b = makeRrsisdScene(64, new SeededRandom(1000 + i), { objectScale: 1 });
    assert.is(a.sentence, b.sentence); // explicit defaults draw the same scene
    assert.equal(a.mask.data, b.mask.data);
    base += area(a.mask);
    scaled += area(makeRrsisdScene(64, new SeededRandom(1000 + i), { objectScale: 3 }).mask);
    const c = makeRrsisdScene(64, new SeededRandom(2000 + i), { maxDistractors: 1, attributes: ['color'] });
    assert.match(c.sentence, /^(The|A) ((red|white|gray|blue|black|yellow|cyan|orange|green) )?[a-z ]+$/, c.sentence);
    assert.not.match(c.sentence, /\b(small|large|on the|at the|in the|is above|is below)\b/, c.sentence);
    assert.ok(c.objects.filter((o) => o.spec === c.target.spec).length <= 2, 'at most one same-category distractor');
    assert.equal(c.objects.filter((o) => fits(c.sentence, o, c.objects)), [c.target], c.sentence);
  }
  // Not 9x: the per-category cap (large half-length <= 0.16 of the image) holds the categories at 1.1-3x
  // in length; ~2.2x in area over these 60 scenes.
  assert.ok(scaled > 2 * base, `object_scale 3 (capped per category) enlarges the targets (${base} -> ${scaled} pixels)`);
  // The cap keeps a scaled object inside its cell, and "large" larger than "small".
  const spec = makeRrsisdScene(64, new SeededRandom(5)).target.spec;
  assert.ok(halfLength({ spec, size: 'large' }, 10) <= 0.16 + 1e-9);
  assert.ok(halfLength({ spec, size: 'small' }, 10) < halfLength({ spec, size: 'large' }, 10));
  // Knobs are part of a dataset's identity, and bad values are refused by name.
  const out = path.join(tmp, 'knobs');
  const k1 = await ensureSynthetic({ format: 'rrsisd', out, n: 12, size: S, scene: { objectScale: 2, attributes: ['color', 'size'] } });
  assert.equal(k1.scene, { objectScale: 2, attributes: ['color', 'size'] });
  assert.is(sceneTag('rrsisd', { objectScale: 2, maxDistractors: 3, attributes: ['size', 'color', 'size'] }), '-x2-acs');
  assert.is(sceneTag('rrsisd', { objectScale: 1, maxDistractors: 3, attributes: ['relation', 'color', 'position', 'size'] }), '');
  assert.ok((await ensureSynthetic({ format: 'rrsisd', out, n: 12, size: S, scene: { objectScale: 2, attributes: ['size', 'color'] } })).reused);
  assert.not.ok((await ensureSynthetic({ format: 'rrsisd', out, n: 12, size: S, scene: { objectScale: 2 } })).reused);
  await rejects(generateSynthetic({ format: 'rrsisd', out, n: 12, size: S, scene: { maxDistractors: 5 } }), /maxDistractors must be an integer in 0\.\.3, got 5/);
  await rejects(generateSynthetic({ format: 'rrsisd', out, n: 12, size: S, scene: { attributes: ['colour' as 'color'] } }), /unknown attribute kind\(s\) colour/);
  await rejects(generateSynthetic({ format: 'refsegrs', out: path.join(tmp, 'rs-knobs'), n: 12, size: S, scene: { objectScale: 2 } }), /apply to the rrsisd format only/);
});

test('deterministic for a seed; ensureSynthetic reuses a matching dataset', async () => {
  const again = path.join(tmp, 'again');
  const s = await generateSynthetic({ format: 'rrsisd', out: again, n: N, size: S, seed: 3 });
  for (const f of ['rrsisd/instances.json', 'rrsisd/refs(unc).p']) assert.is(sha(path.join(again, f)), sha(path.join(tmp, 'rrsisd', f)), f);
  const recs = await readRRSISD(s.root, 'test');
  const other = path.join(tmp, 'rrsisd', path.relative(again, recs[0]!.imagePath));
  assert.is(sha(recs[0]!.imagePath), sha(other));
  const r1 = await ensureSynthetic({ format: 'rrsisd', out: again, n: N, size: S, seed: 3 });
  assert.ok(r1.reused);
  const r2 = await ensureSynthetic({ format: 'rrsisd', out: again, n: N, size: S, seed: 4 });
  assert.not.ok(r2.reused);
  assert.is.not(sha(path.join(again, 'rrsisd/instances.json')), sha(path.join(tmp, 'rrsisd', 'rrsisd/instances.json')));
  const rs = readRefSegRS(made.refsegrs!.root, 'train');
  assert.ok(rs.length > 0);
  try {
    await ensureSynthetic({ format: 'refsegrs', out: path.join(tmp, 'rrsisd', 'images'), n: 3, size: S });
    assert.unreachable('must refuse a foreign non-empty directory');
  } catch (e) {
    assert.match(String(e), /refusing/);
  }
});

test('loader over the generated RRSIS-D data: batches, boxes, empty target tolerated', async () => {
  const root = made.rrsisd!.root;
  const train = await readRRSISD(root, 'train');
  const l = new DataLoader({
    records: train, loadSample: (r) => loadRRSISDSample(r), batchSize: 4, imageSize: 32, textLength: 22,
    mode: 'train', dropLast: true, seed: 1, blackBoxes: blackBoxesFor('rrsisd', train, 1),
  });
  let n = 0;
  for await (const b of l.epoch(0)) {
    assert.is(b.size, 4);
    assert.ok(b.tokenIds[0] === 101 && b.tokenIds[22] === 101);
    assert.ok(b.images.every(Number.isFinite));
    n++;
  }
  assert.is(n, Math.floor(train.length / 4));
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
