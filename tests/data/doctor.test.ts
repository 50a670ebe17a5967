import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { doctorDataset, formatDoctorReport } from '../../src/data/doctor.ts';
import { writeTiff } from '../../src/data/image-io.ts';
import { dumpPickle, loadPickle } from '../../src/io/pickle.ts';

const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'data');

function tmpCopy(src: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fianet-doctor-'));
  cpSync(src, dir, { recursive: true });
  return dir;
}

test('doctor: clean RefSegRS fixture has no errors, only the expected warnings', async () => {
  const r = await doctorDataset(path.join(FIX, 'refsegrs'), 'refsegrs');
  assert.equal(r.errors, [], r.errors.join('\n'));
  assert.ok(r.summary.ok);
  assert.is(r.root, path.join(FIX, 'refsegrs', 'RefSegRS'));
  assert.equal(r.summary.splits.train, { count: 4, expected: 2172 });
  assert.equal(r.summary.splits.test, { count: 3, expected: 1817 });
  assert.is(r.summary.images.checked, 8);
  assert.equal(r.summary.images.sizes, { '12x10': 8 });
  assert.is(r.summary.masks.empty, 1);
  const w = r.warnings.join('\n');
  assert.match(w, 'train: 4 samples, the published split has 2172');
  assert.match(w, 'id 945 is in both val and test');
  assert.match(w, /empty mask .*3080\.tif/);
  const text = formatDoctorReport(r);
  assert.match(text, 'fianet doctor: refsegrs');
  assert.match(text, 'OK: no errors');
});

test('doctor: broken RefSegRS copy reports each problem with its file', async () => {
  const dir = tmpCopy(path.join(FIX, 'refsegrs'));
  try {
    const d = path.join(dir, 'RefSegRS');
    unlinkSync(path.join(d, 'images', '39.tif'));
    writeFileSync(path.join(d, 'images', '945.tif'), 'garbage');
    await writeTiff(path.join(d, 'masks', '948.tif'), { width: 3, height: 3, bitDepth: 8, data: new Uint8Array(9) });
    unlinkSync(path.join(d, 'masks', '2919.tif'));
    unlinkSync(path.join(d, 'output_phrase_val.txt'));
    const r = await doctorDataset(dir, 'refsegrs');
    assert.not.ok(r.summary.ok);
    const e = r.errors.join('\n');
    assert.match(e, /missing image: .*images[/\\]39\.tif/);
    assert.match(e, /unreadable image: .*images[/\\]945\.tif/);
    assert.match(e, /mask .*948\.tif is 3x3 but its image is 12x10/);
    assert.match(e, /missing mask: .*2919\.tif/);
    assert.match(e, /missing split file .*output_phrase_val\.txt/);
    assert.match(formatDoctorReport(r), /FAILED: \d+ error/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('doctor: clean RRSIS-D fixture: quirks are warnings', async () => {
  const dir = tmpCopy(path.join(FIX, 'rrsisd'));
  try {
    const r = await doctorDataset(dir, 'rrsisd', { decodeImages: true });
    assert.equal(r.errors, [], r.errors.join('\n'));
    assert.equal(r.summary.splits.test, { count: 3, expected: 3481 });
    assert.is(r.summary.masks.empty, 1);
    assert.is(r.summary.images.checked, 8);
    const w = r.warnings.join('\n');
    assert.match(w, /09976\.jpg is 16x17 but instances\.json says 16x16/);
    assert.match(w, /15324\.jpg is 13x16/);
    assert.match(w, 'ref 17500: annotation 17500 decodes to an empty mask');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('doctor: broken RRSIS-D copy: duplicates, dangling ids, bad RLE, missing and corrupt JPEGs', async () => {
  const dir = tmpCopy(path.join(FIX, 'rrsisd'));
  try {
    const pkl = path.join(dir, 'rrsisd', 'refs(unc).p');
    const refs = loadPickle(new Uint8Array(readFileSync(pkl))) as Record<string, unknown>[];
    refs.push({ ...refs[0]! }); // duplicate ref_id 110
    refs.push({ ...refs[1]!, ref_id: 99999, ann_id: 424242 }); // dangling ann_id
    writeFileSync(pkl, dumpPickle(refs as never, 2));
    const instPath = path.join(dir, 'rrsisd', 'instances.json');
    const inst = JSON.parse(readFileSync(instPath, 'utf8'));
    inst.annotations[2].segmentation[0].counts = '0';
    writeFileSync(instPath, JSON.stringify(inst));
    const jpg = path.join(dir, 'images', 'rrsisd', 'JPEGImages');
    unlinkSync(path.join(jpg, '20960.jpg'));
    writeFileSync(path.join(jpg, '02934.jpg'), readFileSync(path.join(jpg, '02934.jpg')).subarray(0, 200));
    const r = await doctorDataset(dir, 'rrsisd', { decodeImages: true });
    const e = r.errors.join('\n');
    assert.match(e, 'duplicate ref_id 110');
    assert.match(e, /ref 99999: ann_id 424242 has no annotation/);
    assert.match(e, /instances\.json: annotation 3600: RLE counts sum to 0 but size 16x16 needs 256/);
    assert.match(e, /missing image: .*20960\.jpg/);
    assert.match(e, /unreadable image: .*02934\.jpg/);
    assert.ok(r.summary.duplicateIds >= 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('doctor: missing layout and per-kind caps', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fianet-doctor-empty-'));
  try {
    const r = await doctorDataset(dir, 'rrsisd');
    assert.match(r.errors.join('\n'), /missing refs pickle: .*refs\(unc\)\.p/);
    const r2 = await doctorDataset(path.join(dir, 'nope'), 'refsegrs');
    assert.match(r2.errors.join('\n'), /nope is missing or not a folder/);
    // Cap: one message per kind, then a count.
    const broken = tmpCopy(path.join(FIX, 'refsegrs'));
    try {
      for (const id of ['39', '945', '4213']) unlinkSync(path.join(broken, 'RefSegRS', 'images', `${id}.tif`));
      const r3 = await doctorDataset(broken, 'refsegrs', { maxPerKind: 1 });
      assert.is(r3.errors.filter((x) => x.startsWith('missing image')).length, 1);
      assert.ok(r3.errors.includes('... and 2 more missing image finding(s)'));
      assert.is(r3.summary.images.missing, 3);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
