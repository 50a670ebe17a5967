// Image and mask decoding/encoding through sharp (libvips), matching what the reference loaders get
// from Pillow and OpenCV (DATASETS.md §2.2, §6.3):
//   - images: Pillow `open(...).convert('RGB')`: greyscale copied to 3 channels, alpha dropped
//     (not composited), embedded ICC profiles ignored (Pillow does not colour-manage on open).
//   - masks: OpenCV `imread(path, 2)` (IMREAD_ANYDEPTH without IMREAD_ANYCOLOR): one channel at the
//     file's own depth (8- or 16-bit); colour files go to grey with OpenCV's BT.601 fixed point.
// sharp 0.35.5 was verified on TIFFs with no compression, PackBits and LZW; 1, 3 and 4 samples;
// chunky and planar layouts; 8- and 16-bit (tests/data/readers.test.ts reads one of each), so no
// separate TIFF decoder is needed.
// Writers are atomic (temp file + rename) so a killed generator never leaves half an image behind.

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp, { type OutputInfo, type Sharp } from 'sharp';
import type { RgbImage } from './types.ts';

/** A single-channel image at its stored depth. */
export interface GreyImage {
  width: number;
  height: number;
  bitDepth: 8 | 16;
  data: Uint8Array | Uint16Array; // (H, W)
}

export class ImageError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'ImageError';
  }
}

function explain(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!;
}

async function mustExist(file: string): Promise<void> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw new ImageError(file, 'not a regular file');
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw new ImageError(file, 'image file is missing or unreadable');
  }
}

/** Width/height from the header only (cheap; used by the doctor). */
export async function readImageSize(file: string): Promise<{ width: number; height: number }> {
  await mustExist(file);
  try {
    const meta = await sharp(file, { ignoreIcc: true }).metadata();
    if (!meta.width || !meta.height) throw new Error('no dimensions in header');
    return { width: meta.width, height: meta.height };
  } catch (err) {
    throw new ImageError(file, `cannot read image header (${explain(err)})`);
  }
}

/** Decode any image sharp reads (JPEG, TIFF, PNG, ...) to 8-bit RGB, like Pillow's convert('RGB'). */
export async function readRgbImage(file: string): Promise<RgbImage> {
  await mustExist(file);
  let out: { data: Buffer; info: OutputInfo };
  try {
    // failOn 'error': a truncated JPEG is an error, as Pillow's load() raises on it by default.
    out = await sharp(file, { ignoreIcc: true, failOn: 'error' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new ImageError(file, `cannot decode image (${explain(err)})`);
  }
  const { width, height, channels } = out.info;
  if (channels !== 3) throw new ImageError(file, `decoded to ${channels} channels, expected 3`);
  return { width, height, data: new Uint8Array(out.data.buffer, out.data.byteOffset, width * height * 3) };
}

/**
 * Decode a mask file as OpenCV's imread(path, IMREAD_ANYDEPTH) does: 1 channel, native depth.
 * Colour input becomes grey with (R*4899 + G*9617 + B*1868 + 8192) >> 14 (cv::cvtColor BGR2GRAY);
 * alpha is ignored; 16-bit stays 16-bit.
 */
export async function readGreyImage(file: string): Promise<GreyImage> {
  await mustExist(file);
  let out: { data: Buffer; info: OutputInfo };
  let depth: 8 | 16;
  try {
    const img = sharp(file, { ignoreIcc: true, failOn: 'error' });
    const meta = await img.metadata();
    depth = meta.depth === 'ushort' ? 16 : 8;
    if (meta.depth && meta.depth !== 'uchar' && meta.depth !== 'ushort') {
      throw new Error(`unsupported sample format ${meta.depth}`);
    }
    // Keep the file's own interpretation so libvips converts nothing (b-w/grey16 stay 1 band).
    const space = meta.space ?? 'srgb';
    out = await img
      .toColourspace(space)
      .raw({ depth: depth === 16 ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new ImageError(file, `cannot decode mask (${explain(err)})`);
  }
  const { width, height, channels } = out.info;
  const n = width * height;
  const src = depth === 16
    ? new Uint16Array(out.data.buffer, out.data.byteOffset, n * channels)
    : new Uint8Array(out.data.buffer, out.data.byteOffset, n * channels);
  const data = depth === 16 ? new Uint16Array(n) : new Uint8Array(n);
  if (channels <= 2) {
    for (let i = 0; i < n; i++) data[i] = src[i * channels]!;
  } else {
    for (let i = 0; i < n; i++) {
      const r = src[i * channels]!, g = src[i * channels + 1]!, b = src[i * channels + 2]!;
      // OpenCV's fixed-point BT.601; the same integer formula for both depths.
      data[i] = Math.floor((r * 4899 + g * 9617 + b * 1868 + 8192) / 16384);
    }
  }
  return { width, height, bitDepth: depth, data };
}

// ------------------------------------------------------------------------------------------
// Writers (for the synthetic generator and for tests)

type Pixels = RgbImage | GreyImage;

function toSharp(img: Pixels): Sharp {
  const channels = 'bitDepth' in img ? 1 : 3;
  const expected = img.width * img.height * channels;
  if (img.data.length !== expected) {
    throw new Error(`image data has ${img.data.length} values, expected ${img.width}x${img.height}x${channels}`);
  }
  // A Uint16Array input makes sharp treat the raw pixels as 16-bit.
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels } });
}

/** Write a buffer to `file` atomically: a sibling temp file, then rename. */
export async function writeFileAtomic(file: string, bytes: Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

export async function writePng(file: string, img: Pixels): Promise<void> {
  const s = toSharp(img);
  const bytes = await ('bitDepth' in img && img.bitDepth === 16 ? s.toColourspace('grey16') : s)
    .png({ compressionLevel: 6 })
    .toBuffer();
  await writeFileAtomic(file, bytes);
}

export type TiffCompression = 'none' | 'packbits' | 'lzw' | 'deflate';

export async function writeTiff(file: string, img: Pixels, opts: { compression?: TiffCompression } = {}): Promise<void> {
  const s = toSharp(img);
  const bytes = await ('bitDepth' in img && img.bitDepth === 16 ? s.toColourspace('grey16') : s)
    .tiff({ compression: opts.compression ?? 'packbits' })
    .toBuffer();
  await writeFileAtomic(file, bytes);
}

export async function writeJpeg(file: string, img: RgbImage, opts: { quality?: number } = {}): Promise<void> {
  // 4:2:0 chroma subsampling is sharp's default, as it is libjpeg's and DIOR's.
  const bytes = await toSharp(img).jpeg({ quality: opts.quality ?? 90 }).toBuffer();
  await writeFileAtomic(file, bytes);
}
