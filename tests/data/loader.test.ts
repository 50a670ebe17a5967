import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DataLoader, type DataLoaderOptions, type LoadedBatch } from '../../src/data/loader.ts';
import { BlackBoxAugment } from '../../src/data/transforms.ts';
import type { Sample, SampleRecord } from '../../src/data/types.ts';

const L = 6;
function records(n: number, sentencesPerRef = 1): SampleRecord[] {
  const out: SampleRecord[] = [];
  for (let i = 0; i < n; i++) for (let s = 0; s < sentencesPerRef; s++) {
    out.push({
      dataset: 'rrsisd', split: 'train', refId: 100 + i, imageId: 100 + i, annId: 100 + i, sentId: 1000 + i * 10 + s,
      sentence: `The vehicle ${i} ${s}`, category: 'vehicle', imagePath: `/nowhere/${i}.jpg`,
    });
  }
  return out;
}

// Each image is filled with its refId's low byte so a batch can be decoded back to its records.
// Random delays make promises resolve out of order, which must not change anything.
function loadSample(delay: boolean) {
  return async (r: SampleRecord): Promise<Sample> => {
    if (delay) await new Promise((res) => setTimeout(res, (r.refId * 7919) % 5));
    const w = 40, h = 36;
    const image = { width: w, height: h, data: new Uint8Array(w * h * 3).fill(r.refId & 255) };
    const mask = { width: w, height: h, data: new Uint8Array(w * h).map((_, i) => (i % w < w / 2 ? 1 : 0)) };
    return { ...r, image, mask };
  };
}
const encodeText = (sentence: string) => {
  const ids = new Int32Array(L);
  ids[0] = 101;
  ids[1] = sentence.length;
  const m = Int32Array.from([1, 1, 0, 0, 0, 0]);
  return { inputIds: ids, attentionMask: m, objectMask: m.slice(), spatialMask: m.slice() };
};

function loader(extra: Partial<DataLoaderOptions<SampleRecord>> = {}) {
  return new DataLoader<SampleRecord>({
    records: records(10), loadSample: loadSample(true), encodeText, batchSize: 3, imageSize: 16, textLength: L,
    mode: 'train', seed: 7, ...extra,
  });
}
async function collect(it: AsyncGenerator<LoadedBatch>): Promise<LoadedBatch[]> {
  const out: LoadedBatch[] = [];
  for await (const b of it) out.push(b);
  return out;
}
const ids = (bs: LoadedBatch[]) => bs.map((b) => b.records.map((r) => r.sentId));

test('batching, drop_last and collated shapes', async () => {
  const keep = await collect(loader({ dropLast: false }).epoch(0));
  assert.equal(keep.map((b) => b.size), [3, 3, 3, 1]);
  const drop = await collect(loader({ dropLast: true }).epoch(0));
  assert.equal(drop.map((b) => b.size), [3, 3, 3]);
  const b = keep[0]!;
  assert.is(b.images.length, 3 * 3 * 16 * 16);
  assert.is(b.masks.length, 3 * 16 * 16);
  assert.is(b.tokenIds.length, 3 * L);
  assert.equal([b.imageSize, b.textLength, b.epoch, b.index], [16, L, 0, 0]);
  // Pixel content follows the record: the constant image normalises to a constant plane.
  b.records.forEach((r, i) => {
    const v = b.images[i * 3 * 256]!;
    const want = ((r.refId & 255) / 255 - 0.485) / 0.229;
    assert.ok(Math.abs(v - want) < 1e-5);
  });
  assert.equal(Array.from(b.masks.subarray(0, 16)), [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.is(b.tokenIds[L + 1], b.records[1]!.sentence.length);
});

test('deterministic for (seed, epoch); shuffle differs between epochs and seeds', async () => {
  const a0 = ids(await collect(loader().epoch(0)));
  const b0 = ids(await collect(loader().epoch(0)));
  const a1 = ids(await collect(loader().epoch(1)));
  const c0 = ids(await collect(loader({ seed: 8 }).epoch(0)));
  assert.equal(a0, b0);
  assert.not.equal(a0, a1);
  assert.not.equal(a0, c0);
  assert.equal(a0.flat().sort(), a1.flat().sort());
  const ordered = ids(await collect(loader({ mode: 'eval' }).epoch(0)));
  assert.equal(ordered.flat(), records(10).map((r) => r.sentId));
});

test('prefetch depth and decode timing do not change order or contents', async () => {
  const ref = await collect(loader({ prefetch: 0, loadSample: loadSample(false) }).epoch(3));
  for (const prefetch of [1, 4, 20]) {
    const got = await collect(loader({ prefetch }).epoch(3));
    assert.equal(ids(got), ids(ref));
    got.forEach((b, i) => assert.equal(Array.from(b.images), Array.from(ref[i]!.images)));
  }
});

test('resume from (epoch, position) continues exactly', async () => {
  const full = [...(await collect(loader().epoch(0))), ...(await collect(loader().epoch(1)))];
  const l = loader();
  const resumed = await collect(l.resume({ epoch: 0, position: 2 }, 2));
  assert.equal(ids(resumed), ids(full.slice(2)));
  assert.equal(resumed.map((b) => [b.epoch, b.index]), [[0, 2], [0, 3], [1, 0], [1, 1], [1, 2], [1, 3]]);
});

test('train draws one sentence per ref per epoch; eval yields every sentence', async () => {
  const recs = records(6, 3);
  const train = loader({ records: recs, batchSize: 4 });
  assert.is(train.numItems, 6);
  const e0 = ids(await collect(train.epoch(0))).flat();
  assert.is(e0.length, 6);
  assert.is(new Set(e0.map((s) => Math.floor((s - 1000) / 10))).size, 6);
  const picks = new Set<number>();
  for (let e = 0; e < 8; e++) for (const s of ids(await collect(train.epoch(e))).flat()) picks.add(s % 10);
  assert.equal([...picks].sort(), [0, 1, 2]);
  const evalL = loader({ records: recs, mode: 'eval', batchSize: 1 });
  assert.is(evalL.numItems, 18);
  assert.is((await collect(evalL.epoch(0))).length, 18);
  // The same refs listed once each with a `sentences` array (the RRSIS-D reader's shape).
  const grouped = records(6).map((r, i) => ({ ...r, sentences: [0, 1, 2].map((s) => ({ sentId: 1000 + i * 10 + s, raw: `The vehicle ${i} ${s}` })) }));
  const g = loader({ records: grouped, batchSize: 4 });
  assert.is(g.numItems, 6);
  assert.equal(ids(await collect(g.epoch(0))), ids(await collect(train.epoch(0))));
  assert.is(loader({ records: grouped, mode: 'eval' }).numItems, 18);
});

test('black boxes: train only, reproducible, original masks kept on request', async () => {
  const recs = records(10);
  const boxes = new BlackBoxAugment(recs.map((r) => r.refId), { seed: 1, fraction: 1, boxSize: 8, minBoxes: 3, maxBoxes: 3 });
  const big = async (r: SampleRecord): Promise<Sample> => ({
    ...r,
    image: { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(255) },
    mask: { width: 64, height: 64, data: new Uint8Array(64 * 64) },
  });
  const tr = await collect(loader({ records: recs, loadSample: big, blackBoxes: boxes }).epoch(0));
  const tr2 = await collect(loader({ records: recs, loadSample: big, blackBoxes: boxes, prefetch: 0 }).epoch(0));
  const ev = await collect(loader({ records: recs, loadSample: big, blackBoxes: boxes, mode: 'eval', keepOriginalMasks: true }).epoch(0));
  const max = (b: LoadedBatch) => b.images.reduce((m, v) => Math.max(m, v), -Infinity);
  const min = (b: LoadedBatch) => b.images.reduce((m, v) => Math.min(m, v), Infinity);
  assert.ok(min(tr[0]!) < 0, 'boxes darken the image');
  assert.equal(Array.from(tr[0]!.images), Array.from(tr2[0]!.images));
  assert.ok(Math.abs(min(ev[0]!) - max(ev[0]!)) > 0 && min(ev[0]!) > 1, 'no boxes in eval');
  assert.is(ev[0]!.originalMasks![0]!.width, 64);
});

test('default encoder: BERT ids, m_C, m_G on the class word', async () => {
  const l = loader({ encodeText: undefined, textLength: 22, mode: 'eval', records: records(1) });
  const [b] = await collect(l.epoch(0));
  // "The vehicle 0 0" -> [CLS] the vehicle 0 0 [SEP]
  assert.equal(Array.from(b!.tokenIds.subarray(0, 7)), [101, 1996, 4316, 1014, 1014, 102, 0]);
  assert.equal(Array.from(b!.contextMask.subarray(0, 7)), [1, 1, 1, 1, 1, 1, 0]);
  assert.is(b!.objectMask[2], 1);
  assert.is(b!.objectMask[1], 0);
});

test.run();
