import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImageError, readGreyImage, readRgbImage, writeJpeg, writePng, writeTiff } from '../../src/data/image-io.ts';
import { dumpPickle } from '../../src/io/pickle.ts';
import { loadRefsWithInfo } from '../../src/data/refer-cache.ts';
import {
  loadSample, parseSplitLine, readRefSegRS, refsegrsCategory, resolveRefSegRSRoot,
} from '../../src/data/refsegrs.ts';
import { expandSentences, readRRSISD } from '../../src/data/rrsisd.ts';

const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'data');
const RS_ROOT = path.join(FIX, 'refsegrs');
const RR_ROOT = path.join(FIX, 'rrsisd');
const rsExpected = JSON.parse(readFileSync(path.join(FIX, 'refsegrs', 'expected.json'), 'utf8'));
const rrExpected = JSON.parse(readFileSync(path.join(FIX, 'rrsisd_expected.json'), 'utf8'));

function tmpCopy(src: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fianet-readers-'));
  cpSync(src, dir, { recursive: true });
  return dir;
}

// ---------------------------------------------------------------- RefSegRS

test('RefSegRS: a single wrapping folder is accepted', () => {
  assert.is(resolveRefSegRSRoot(RS_ROOT), path.join(RS_ROOT, 'RefSegRS'));
  assert.is(resolveRefSegRSRoot(path.join(RS_ROOT, 'RefSegRS')), path.join(RS_ROOT, 'RefSegRS'));
});

test('RefSegRS: line parsing as the reference (file order, CRLF, blank lines, raw sentence)', () => {
  const train = readRefSegRS(RS_ROOT, 'train');
  assert.equal(train.map((r) => r.refId), [948, 39, 2919, 1298]);
  assert.equal(train.map((r) => r.sentId), [0, 1, 2, 3]);
  assert.is(train[0]!.sentence, 'light-duty vehicle in the parking area');
  assert.is(train[0]!.rawSentence, 'light-duty vehicle in the parking area\n');
  assert.ok(train[0]!.imagePath.endsWith(path.join('RefSegRS', 'images', '948.tif')));
  assert.ok(train[0]!.maskPath.endsWith(path.join('RefSegRS', 'masks', '948.tif')));
  const test_ = readRefSegRS(RS_ROOT, 'test');
  assert.equal(test_.map((r) => r.refId), [4213, 945, 3080]);
  assert.equal(test_.map((r) => r.sentId), [0, 1, 3]); // line 2 is blank
  assert.is(test_[0]!.sentence, 'van driving on the road');
  assert.is(test_[0]!.rawSentence, 'van driving on the road\r\n');
  assert.is(test_[1]!.sentence, 'building  along the road'); // double space kept
  assert.is(test_[2]!.rawSentence, 'sidewalk along with tree'); // last line has no newline
  assert.equal(parseSplitLine('4566 road marking\n', 'f'), { idText: '4566', id: 4566, sentence: 'road marking', rawSentence: 'road marking\n' });
  assert.is(parseSplitLine('\r\n', 'f'), null);
  assert.throws(() => parseSplitLine('abc def\n', 'split.txt:3'), /split\.txt:3.*"<id> <expression>"/);
});

test('RefSegRS: category = earliest class named', () => {
  const cases: [string, string][] = [
    ['van driving on the road', 'van'], ['sidewalk along with tree', 'sidewalk'], ['light-duty vehicle', 'vehicle'],
    ['road marking', 'road marking'], ['low vegetation surrounded by building', 'low vegetation'],
    ['impervious surface', 'impervious surface'], ['long truck', 'truck'], ['cars in the parking area', 'car'],
    ['trailer in the parking area', 'trailer'], ['something else', ''], ['paved road', 'road'], ['bikeway', 'bikeway'],
  ];
  for (const [s, c] of cases) assert.is(refsegrsCategory(s), c, s);
  assert.is(readRefSegRS(RS_ROOT, 'val')[0]!.category, 'road marking');
});

test('RefSegRS: every TIFF layout decodes to the generator pixels; masks are grey > 50', async () => {
  const all = [...readRefSegRS(RS_ROOT, 'train'), ...readRefSegRS(RS_ROOT, 'val'), ...readRefSegRS(RS_ROOT, 'test')];
  const seen = new Set<number>();
  for (const r of all) {
    if (seen.has(r.refId)) continue;
    seen.add(r.refId);
    const s = await loadSample(r);
    const exp = rsExpected.samples[String(r.refId)];
    assert.is(s.image.width, rsExpected.width);
    assert.is(s.image.height, rsExpected.height);
    assert.equal([...s.image.data], exp.rgb, `image ${r.refId}`);
    assert.equal([...s.mask.data], exp.mask, `mask ${r.refId}`);
  }
  // none, PackBits, LZW; 1/3/4 samples; chunky and planar; 8/16-bit and colour masks
  assert.is(seen.size, 8);
});

test('RefSegRS: missing split file names its path', () => {
  const dir = tmpCopy(RS_ROOT);
  try {
    unlinkSync(path.join(dir, 'RefSegRS', 'output_phrase_val.txt'));
    assert.throws(() => readRefSegRS(dir, 'val'), /RefSegRS[/\\]output_phrase_val\.txt: split file for "val" is missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('RefSegRS: corrupt image and mask/image size mismatch are clear errors', async () => {
  const dir = tmpCopy(RS_ROOT);
  try {
    const recs = readRefSegRS(dir, 'train');
    const bytes = readFileSync(recs[0]!.imagePath);
    writeFileSync(recs[0]!.imagePath, bytes.subarray(0, 60)); // header survives, strips do not
    try { await loadSample(recs[0]!); assert.unreachable(); } catch (err) {
      assert.instance(err, ImageError);
      assert.match((err as Error).message, recs[0]!.imagePath);
      assert.match((err as Error).message, 'cannot decode image');
    }
    writeFileSync(recs[1]!.imagePath, 'not an image at all');
    await assert_rejects(() => loadSample(recs[1]!), new RegExp(`${escape(recs[1]!.imagePath)}: cannot decode image`));
    await writeTiff(recs[2]!.maskPath, { width: 5, height: 4, bitDepth: 8, data: new Uint8Array(20) });
    await assert_rejects(() => loadSample(recs[2]!), /masks[/\\]2919\.tif: size mismatch: mask .* is 5x4 but image .* is 12x10/);
    const warnings: string[] = [];
    const s = await loadSample(recs[2]!, { strictSize: false, onWarning: (m) => warnings.push(m) });
    assert.is(s.mask.width, 5);
    assert.is(warnings.length, 1);
    unlinkSync(recs[3]!.imagePath);
    await assert_rejects(() => loadSample(recs[3]!), /1298\.tif: image file is missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- RRSIS-D

test('RRSIS-D: splits in pickle order, test by substring, categories from instances.json', async () => {
  const dir = tmpCopy(RR_ROOT); // the reader writes its refs cache beside the pickle
  try {
    const train = await readRRSISD(dir, 'train');
    assert.equal(train.map((r) => r.refId), [2934, 9976, 20960]);
    const val = await readRRSISD(dir, 'val');
    assert.equal(val.map((r) => r.refId), [110, 15324]);
    const tst = await readRRSISD(dir, 'test');
    assert.equal(tst.map((r) => r.refId), [3600, 17500, 22187]);
    assert.is(tst[2]!.rawSplit, 'testB');
    const dam = val[0]!;
    assert.is(dam.sentence, 'The large dam');
    assert.equal(dam.sentences, [{ sentId: 110, raw: 'The large dam' }]);
    assert.is(dam.category, 'dam');
    assert.is(tst[1]!.category, 'Expressway-Service-area');
    assert.is(tst[1]!.categoryPhrase, 'expressway service area');
    assert.ok(dam.imagePath.endsWith(path.join('images', 'rrsisd', 'JPEGImages', '00110.jpg')));
    assert.is(expandSentences(val).length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('RRSIS-D: masks from RLE, JPEG close to Pillow, size mismatch tolerated with a warning', async () => {
  const dir = tmpCopy(RR_ROOT);
  try {
    const recs = [...await readRRSISD(dir, 'train'), ...await readRRSISD(dir, 'val'), ...await readRRSISD(dir, 'test')];
    const warnings: string[] = [];
    for (const r of recs) {
      const s = await loadSample(r, { onWarning: (m) => warnings.push(m) });
      const exp = rrExpected.samples[String(r.refId)];
      assert.equal([...s.mask.data], exp.mask, `mask ${r.refId}`);
      assert.equal([s.mask.width, s.mask.height], [16, 16]);
      assert.equal([s.image.width, s.image.height], exp.jpeg, `jpeg size ${r.refId}`);
      let maxDiff = 0;
      exp.pillow_rgb.forEach((v: number, i: number) => { maxDiff = Math.max(maxDiff, Math.abs(v - s.image.data[i]!)); });
      // libjpeg-turbo vs Pillow's libjpeg: same IDCT and upsampling; allow the documented ±2.
      assert.ok(maxDiff <= 2, `JPEG ${r.refId} differs from Pillow by ${maxDiff}`);
    }
    assert.is(warnings.length, 2);
    assert.match(warnings.join('\n'), /09976\.jpg: image is 16x17 but annotation 9976 is 16x16/);
    const empty = recs.find((r) => r.refId === 17500)!;
    assert.is((await loadSample(empty)).mask.data.reduce((a, b) => a + b, 0), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('RRSIS-D: malformed RLE names the annotation and instances.json', async () => {
  const dir = tmpCopy(RR_ROOT);
  try {
    const instPath = path.join(dir, 'rrsisd', 'instances.json');
    const inst = JSON.parse(readFileSync(instPath, 'utf8'));
    inst.annotations[0].segmentation[0].counts = 'abc"';
    writeFileSync(instPath, JSON.stringify(inst));
    const [rec] = await readRRSISD(dir, 'val');
    await assert_rejects(() => loadSample(rec!), /instances\.json: annotation 110: RLE string has an invalid character/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('refs cache: written beside, reused, invalidated on change, temp fallback', async () => {
  const dir = tmpCopy(RR_ROOT);
  try {
    const pkl = path.join(dir, 'rrsisd', 'refs(unc).p');
    const a = await loadRefsWithInfo(pkl);
    assert.is(a.fromCache, false);
    assert.is(a.cachePath, `${pkl}.cache.json`);
    assert.ok(existsSync(`${pkl}.cache.json`));
    const b = await loadRefsWithInfo(pkl);
    assert.is(b.fromCache, true);
    assert.equal(b.refs, a.refs);
    // A different pickle (same path) must not hit the old cache.
    const changed = a.refs.slice(0, 2).map((r) => ({ ...r, split: 'val' }));
    writeFileSync(pkl, dumpPickle(changed as never, 2));
    const c = await loadRefsWithInfo(pkl);
    assert.is(c.fromCache, false);
    assert.is(c.refs.length, 2);
    // Cache location unwritable (a folder squats on the name): falls back to the OS temp dir.
    rmSync(`${pkl}.cache.json`);
    mkdirSync(`${pkl}.cache.json`);
    const d = await loadRefsWithInfo(pkl);
    assert.ok(d.cachePath!.startsWith(os.tmpdir()));
    assert.is((await loadRefsWithInfo(pkl)).fromCache, true);
    rmSync(d.cachePath!, { force: true });
    // A truncated pickle is a clear error.
    writeFileSync(pkl, dumpPickle(changed as never, 2).subarray(0, 30));
    await assert_rejects(() => loadRefsWithInfo(pkl), /refs\(unc\)\.p: pickle error .*truncated/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- writers

test('writers: PNG/TIFF/JPEG round-trip, atomic (no temp files left)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fianet-writers-'));
  try {
    const w = 7, h = 5;
    const rgb = { width: w, height: h, data: Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) & 255) };
    const grey = { width: w, height: h, bitDepth: 8 as const, data: Uint8Array.from({ length: w * h }, (_, i) => (i % 2 ? 255 : 0)) };
    const grey16 = { width: w, height: h, bitDepth: 16 as const, data: Uint16Array.from({ length: w * h }, (_, i) => i * 1000) };
    for (const compression of ['none', 'packbits', 'lzw'] as const) {
      const f = path.join(dir, `rgb_${compression}.tif`);
      await writeTiff(f, rgb, { compression });
      assert.equal((await readRgbImage(f)).data, rgb.data);
      const g = path.join(dir, `grey_${compression}.tif`);
      await writeTiff(g, grey, { compression });
      const back = await readGreyImage(g);
      assert.is(back.bitDepth, 8);
      assert.equal([...back.data], [...grey.data]);
    }
    await writeTiff(path.join(dir, 'g16.tif'), grey16);
    const g16 = await readGreyImage(path.join(dir, 'g16.tif'));
    assert.is(g16.bitDepth, 16);
    assert.equal([...g16.data], [...grey16.data]);
    await writePng(path.join(dir, 'a.png'), rgb);
    assert.equal((await readRgbImage(path.join(dir, 'a.png'))).data, rgb.data);
    await writePng(path.join(dir, 'm.png'), grey);
    assert.equal([...(await readGreyImage(path.join(dir, 'm.png'))).data], [...grey.data]);
    await writeJpeg(path.join(dir, 'a.jpg'), rgb, { quality: 95 });
    const j = await readRgbImage(path.join(dir, 'a.jpg'));
    assert.equal([j.width, j.height], [w, h]);
    const { readdirSync } = await import('node:fs');
    assert.not.ok(readdirSync(dir).some((n) => n.endsWith('.tmp')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function assert_rejects(fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await fn();
  } catch (err) {
    assert.match((err as Error).message, re);
    return;
  }
  assert.unreachable(`expected a rejection matching ${re}`);
}

test.run();
