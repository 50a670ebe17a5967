import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  annToMask, CocoError, countsToMask, decodeCountsString, decodeRle, encodeCountsString, encodeMask, maskArea,
  maskBboxXywh, maskToCounts, polygonToCounts,
} from '../../src/data/coco.ts';
import type { BinaryMask } from '../../src/data/types.ts';

const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'data', 'rle');
const vectors = JSON.parse(readFileSync(path.join(FIX, 'rle_vectors.json'), 'utf8')) as {
  rle: { name: string; size: [number, number]; counts: number[]; string: string; rows?: string[] }[];
  polygons: { name: string; h: number; w: number; poly: number[]; counts: number[] }[];
};

// DATASETS.md Appendix A (real data, verified against pycocotools 2.0.11).
const A1 = 'Pbi8110000010O110O072IM1020M002051JOOQg02QYO1O1OL01:OF0000b00^O10nf01RYO117NG091=0[OPg0OoXO0100<OG7c0I[O10of00PYOf10[Nof0NRYO00b10`NQg0OoXO]1ObN1200nf0NRYOZ1OgN2ON010O010_e00aZO0O90G0001080H0O020N0U10kN00Xf00hYO`00@0081IOOZ11fNO000Xf0Z2jYOfMN100Yf0OgYO00T22lMN01021Tf0OiYOV20jM1011N0Zf0U2fYOjM00000000010OXf00hYOW20iM012O10Vf0U2gYOlM0O020O00Yf0U2?01ONkMZYOT2hf0lMWYO000`1?Xe0A[YOa04_OO646^f0DXYO00116?7HCI7OHhf00XYO10076i0IPO114OKX^U:';
const A2 = 'icW47i?00000O10000000O100000O10000001N10iog01VPXO00000O10000000O0100000000000O1000001N2O_l\\2';

test('Appendix A1: RRSIS-D windmill 03600', () => {
  const counts = decodeCountsString(A1);
  assert.is(counts.length, 309);
  assert.equal(counts.slice(0, 6), [288320, 1, 1, 1, 1, 1]);
  assert.is(counts.reduce((a, b) => a + b, 0), 640000);
  const m = decodeRle({ size: [800, 800], counts: A1 });
  assert.is(maskArea(m), 1410);
  assert.equal(maskBboxXywh(m), [360, 272, 24, 112]);
  assert.is(encodeMask(m).counts, A1);
});

test('Appendix A2: RefSegRS 4213 (with a backslash)', () => {
  assert.is(A2.split('\\').length, 2);
  const counts = decodeCountsString(A2);
  assert.is(counts.length, 79);
  assert.equal(counts.slice(0, 6), [138873, 7, 505, 7, 505, 7]);
  const m = decodeRle({ size: [512, 512], counts: A2 });
  assert.is(maskArea(m), 284);
  const [x, y, w, h] = maskBboxXywh(m);
  assert.equal([x, y, x + w - 1, y + h - 1], [271, 111, 357, 127]);
  assert.is(encodeMask(m).counts, A2);
});

function maskFromRows(rows: string[]): BinaryMask {
  const h = rows.length, w = rows[0]!.length;
  return { width: w, height: h, data: Uint8Array.from(rows.join(''), (c) => Number(c)) };
}

test('independent Python encoder vectors: decode, encode and raster agree', () => {
  assert.ok(vectors.rle.length > 20);
  for (const v of vectors.rle) {
    assert.equal(decodeCountsString(v.string), v.counts, v.name);
    assert.is(encodeCountsString(v.counts), v.string, v.name);
    const m = decodeRle({ size: v.size, counts: v.string });
    const m2 = decodeRle({ size: v.size, counts: v.counts }); // uncompressed form
    assert.equal(m.data, m2.data, v.name);
    assert.equal(maskToCounts(m), v.counts, v.name);
    if (v.rows) assert.equal(m.data, maskFromRows(v.rows).data, v.name);
  }
});

test('polygons: rleFrPoly transcription vectors and a square by hand', () => {
  for (const p of vectors.polygons) {
    assert.equal(polygonToCounts(p.poly, p.h, p.w), p.counts, p.name);
  }
  // pycocotools rasterises the square (2,2)-(8,8) as columns 2..7, rows 2..7 (36 px).
  const sq = countsToMask(polygonToCounts([2, 2, 8, 2, 8, 8, 2, 8], 12, 12), 12, 12);
  assert.is(maskArea(sq), 36);
  assert.equal(maskBboxXywh(sq), [2, 2, 6, 6]);
});

test('annToMask: polygons, RLE dict, list of RLE, uncompressed counts', () => {
  const poly = annToMask({ id: 5, segmentation: [[2, 2, 8, 2, 8, 8, 2, 8]] }, 12, 12);
  assert.is(maskArea(poly), 36);
  const rle = annToMask({ id: 6, segmentation: [{ size: [800, 800], counts: A1 }] }, 800, 800);
  assert.is(maskArea(rle), 1410);
  const dict = annToMask({ id: 7, segmentation: { size: [800, 800], counts: A1 } }, 800, 800);
  assert.equal(dict.data, rle.data);
  const unc = annToMask({ id: 8, segmentation: { size: [2, 2], counts: [1, 2, 1] } }, 2, 2);
  // column-major: (0,0)=0, (1,0)=1, (0,1)=1, (1,1)=0 -> row-major [0,1,1,0]
  assert.equal([...unc.data], [0, 1, 1, 0]);
  // Two overlapping parts: the reference sums and keeps == 1, so the overlap is background.
  const a = { size: [2, 2], counts: [0, 2, 2] }; // column 0
  const b = { size: [2, 2], counts: [1, 3] }; // everything but (0,0)
  const sum = annToMask({ id: 9, segmentation: [a, b] }, 2, 2);
  assert.equal([...sum.data], [1, 1, 0, 1]);
});

test('malformed RLE: errors name the file and annotation', () => {
  const ctx = { file: 'rrsisd/instances.json', annId: 6000 };
  assert.throws(() => decodeRle({ size: [10, 10], counts: [5, 5] }, ctx), /instances\.json: annotation 6000: RLE counts sum to 10 but size 10x10 needs 100/);
  assert.throws(() => decodeRle({ size: [800, 799], counts: A1 }, ctx), /annotation 6000.*sum to 640000 but size 800x799/);
  assert.throws(() => decodeRle({ size: [4, 4], counts: '0"2' }, ctx), /annotation 6000.*invalid character "\\"".*offset 1/);
  assert.throws(() => decodeRle({ size: [4, 4], counts: 'p' }, ctx), /invalid character/);
  // 'X' = 40 has the continuation bit set: the string ends inside a value
  assert.throws(() => decodeRle({ size: [4, 4], counts: '0X' }, ctx), /ends in the middle of a value/);
  assert.throws(() => decodeRle({ size: [4, 4], counts: [20, -4] }, ctx), /count 1 is -4/);
  try {
    annToMask({ id: 42, segmentation: 'nope' }, 4, 4, { file: 'x.json' });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, CocoError);
    assert.match((err as Error).message, 'x.json: annotation 42');
  }
});

test('encode round-trip on random masks', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let t = 0; t < 30; t++) {
    const h = 1 + Math.floor(rand() * 40), w = 1 + Math.floor(rand() * 40);
    const p = rand();
    const m: BinaryMask = { width: w, height: h, data: Uint8Array.from({ length: h * w }, () => (rand() < p ? 1 : 0)) };
    const enc = encodeMask(m);
    assert.equal(decodeRle(enc).data, m.data);
  }
});

test.run();
