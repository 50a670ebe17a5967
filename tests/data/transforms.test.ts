import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  BlackBoxAugment, bilinearCoeffs, nearestIndex, normalizeImageNet, resizeBilinearU8, resizeNearestU8, SeededRandom,
} from '../../src/data/transforms.ts';

interface FixtureCase {
  kind: 'bilinear' | 'nearest';
  inW: number; inH: number; outW: number; outH: number;
  seed: number; style: 'noise' | 'smooth'; sha256: string; data?: string;
}
const fixtures = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/data/resize_fixtures.json', import.meta.url)), 'utf8'),
) as {
  pillow: string;
  cases: FixtureCase[];
  jpeg: { file: string; width: number; height: number; decodeSha256: string; resized: { outW: number; outH: number; sha256: string }[] };
};

// Mirrors hash32()/pixel() in tests/fixtures/data/make_resize_fixtures.py.
function hash32(x: number, y: number, c: number, seed: number): number {
  let h = (Math.imul(x, 73856093) ^ Math.imul(y, 19349663) ^ Math.imul(c, 83492791) ^ Math.imul(seed, 2654435761 | 0)) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0x5bd1e995) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  return h;
}
function makeInput(w: number, h: number, ch: number, seed: number, style: string): Uint8Array {
  const out = new Uint8Array(w * h * ch);
  let i = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < ch; c++) {
    out[i++] = style === 'noise' ? hash32(x, y, c, seed) & 255 : (x * 3 + y * 2 + c * 40 + (hash32(x, y, c, seed) & 15)) & 255;
  }
  return out;
}
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

for (const kind of ['bilinear', 'nearest'] as const) {
  test(`${kind} matches Pillow ${fixtures.pillow} bit for bit`, () => {
    const cases = fixtures.cases.filter((c) => c.kind === kind);
    assert.ok(cases.length > 10);
    for (const c of cases) {
      const ch = kind === 'bilinear' ? 3 : 1;
      const input = makeInput(c.inW, c.inH, ch, c.seed, c.style);
      const out = kind === 'bilinear'
        ? resizeBilinearU8(input, c.inW, c.inH, 3, c.outW, c.outH)
        : resizeNearestU8(input, c.inW, c.inH, c.outW, c.outH);
      const name = `${c.style} ${c.inW}x${c.inH}->${c.outW}x${c.outH}`;
      if (c.data) {
        const want = Buffer.from(c.data, 'base64');
        const bad = out.findIndex((v, i) => v !== want[i]);
        assert.is(bad, -1, `${name}: first difference at byte ${bad} (${out[bad]} vs ${want[bad]})`);
      }
      assert.is(sha(out), c.sha256, name);
    }
  });
}

test('JPEG decode (sharp) + bilinear match Pillow end to end', async () => {
  const { readRgbImage } = await import('../../src/data/image-io.ts');
  const j = fixtures.jpeg;
  const img = await readRgbImage(fileURLToPath(new URL(`../fixtures/data/${j.file}`, import.meta.url)));
  assert.equal([img.width, img.height], [j.width, j.height]);
  assert.is(sha(img.data), j.decodeSha256, 'decode');
  for (const r of j.resized) assert.is(sha(resizeBilinearU8(img.data, img.width, img.height, 3, r.outW, r.outH)), r.sha256, `${r.outW}x${r.outH}`);
});

test('nearest uses incremental accumulation (512->480 tie at k=7)', () => {
  const idx = nearestIndex(512, 480);
  assert.is(idx[7], 7); // the closed form floor((k+0.5)s) would give 8
  const id800 = nearestIndex(800, 480);
  for (let k = 0; k < 480; k++) assert.is(id800[k], Math.floor((k + 0.5) * (800 / 480)));
});

test('bilinear coefficients sum to ~2^22 and identity resize copies', () => {
  const c = bilinearCoeffs(800, 480);
  for (let k = 0; k < 480; k++) {
    let s = 0;
    for (let j = 0; j < c.bounds[2 * k + 1]!; j++) s += c.kk[k * c.ksize + j]!;
    assert.ok(Math.abs(s - (1 << 22)) <= c.ksize, `row ${k}`);
  }
  const img = makeInput(9, 5, 3, 1, 'noise');
  const same = resizeBilinearU8(img, 9, 5, 3, 9, 5);
  assert.equal(Array.from(same), Array.from(img));
  assert.is.not(same, img);
});

test('normalizeImageNet: CHW layout and torchvision float32 values', () => {
  const img = { width: 2, height: 1, data: new Uint8Array([0, 128, 255, 10, 20, 30]) };
  const t = normalizeImageNet(img);
  assert.is(t.length, 6);
  const f = Math.fround;
  const ref = (v: number, m: number, s: number) => f(f(f(v / 255) - f(m)) / f(s));
  assert.is(t[0], ref(0, 0.485, 0.229)); // R of pixel 0
  assert.is(t[1], ref(10, 0.485, 0.229)); // R of pixel 1
  assert.is(t[2], ref(128, 0.456, 0.224)); // G of pixel 0
  assert.is(t[5], ref(30, 0.406, 0.225)); // B of pixel 1
  const big = new Float32Array(10);
  normalizeImageNet(img, big, 4);
  assert.is(big[4], t[0]);
  assert.is(big[3], 0);
});

test('BlackBoxAugment: 20% chosen, 20-60 boxes, deterministic per (seed, epoch, ref)', () => {
  const ids = Array.from({ length: 100 }, (_, i) => i * 3 + 1);
  const aug = new BlackBoxAugment(ids, { seed: 5 });
  assert.is(aug.chosen.size, 20);
  assert.equal([...new BlackBoxAugment(ids, { seed: 5 }).chosen], [...aug.chosen]);
  const ref = [...aug.chosen][0]!;
  const other = ids.find((i) => !aug.chosen.has(i))!;
  const img = { width: 200, height: 190, data: new Uint8Array(200 * 190 * 3).fill(200) };
  assert.is(aug.apply(img, other, 0), img);
  const a = aug.apply(img, ref, 0);
  const b = aug.apply(img, ref, 0);
  const c = aug.apply(img, ref, 1);
  assert.equal(sha(a.data), sha(b.data));
  assert.is.not(sha(a.data), sha(c.data));
  assert.ok(img.data.every((v) => v === 200), 'input untouched');
  const zeros = a.data.filter((v) => v === 0).length / 3;
  assert.ok(zeros >= 32 * 32 * 0.5 && zeros <= 60 * 32 * 32, `${zeros} zeroed pixels`);
});

test('SeededRandom is reproducible and int() covers bounds', () => {
  const r1 = new SeededRandom(42), r2 = new SeededRandom(42);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const v = r1.int(20, 60);
    assert.is(v, r2.int(20, 60));
    seen.add(v);
  }
  assert.is(Math.min(...seen), 20);
  assert.is(Math.max(...seen), 60);
});

test('data bench smoke (small sizes)', async () => {
  const { benchDataRrsisd } = await import('../../src/data/bench.ts');
  const r = await benchDataRrsisd({ images: 4, files: 2, srcSize: 120, outSize: 72, concurrency: 2 });
  assert.is(r.bench, 'data_rrsisd');
  assert.is(r.device, 'cpu');
  assert.ok(r.imagesPerSec > 0 && r.ms > 0);
});

test.run();
