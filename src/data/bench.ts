// Data-pipeline throughput: decode 800×800 RRSIS-D-like JPEGs (sharp/libjpeg-turbo, off the main
// thread), Pillow-exact bilinear resize to 480×480 and ImageNet normalisation into a float32
// (3, 480, 480) tensor — the per-sample CPU work the loader does for every training image.
// Decodes run concurrently in libvips' thread pool while the main thread resizes earlier images.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readRgbImage, writeJpeg } from './image-io.ts';
import { makeRrsisdScene } from './synth/rrsisd-scene.ts';
import { normalizeImageNet, resizeBilinear, SeededRandom } from './transforms.ts';

export interface DataBenchResult {
  bench: 'data_rrsisd';
  device: 'cpu';
  /** Mean wall-clock milliseconds per image (decode + resize + normalise). */
  ms: number;
  imagesPerSec: number;
  images: number;
  srcSize: number;
  outSize: number;
  /** Decodes in flight at once. */
  concurrency: number;
}

export interface DataBenchOptions {
  /** Images processed in the timed run (cycling over the distinct files). Default 96. */
  images?: number;
  /** Distinct JPEG files written. Default 8. */
  files?: number;
  srcSize?: number; // 800
  outSize?: number; // 480
  concurrency?: number; // 4
  seed?: number;
}

export async function benchDataRrsisd(opts: DataBenchOptions = {}): Promise<DataBenchResult> {
  const images = opts.images ?? 96, files = opts.files ?? 8;
  const src = opts.srcSize ?? 800, S = opts.outSize ?? 480, concurrency = opts.concurrency ?? 4;
  const dir = await mkdtemp(path.join(tmpdir(), 'fianet-bench-data-'));
  try {
    // Real-looking content: JPEG decode cost depends on it (flat images decode unrealistically fast).
    const rng = new SeededRandom(opts.seed ?? 0);
    const paths: string[] = [];
    for (let i = 0; i < files; i++) {
      const p = path.join(dir, `${String(i).padStart(5, '0')}.jpg`);
      await writeJpeg(p, makeRrsisdScene(src, rng).image, { quality: 92 });
      paths.push(p);
    }
    const out = new Float32Array(3 * S * S);
    const one = async (i: number): Promise<void> => {
      const img = await readRgbImage(paths[i % files]!);
      normalizeImageNet(resizeBilinear(img, S, S), out);
    };
    // Warm-up: JIT, sharp's thread pool, the coefficient cache.
    for (let i = 0; i < Math.min(4, files); i++) await one(i);

    const t0 = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < images) await one(next++);
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const total = performance.now() - t0;
    return {
      bench: 'data_rrsisd', device: 'cpu', ms: total / images, imagesPerSec: (images * 1000) / total,
      images, srcSize: src, outSize: S, concurrency,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
