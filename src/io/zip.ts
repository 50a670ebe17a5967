// A small read-only ZIP reader for PyTorch's zip checkpoints (torch >= 1.6 writes them with miniz: STORED entries,
// data aligned to 64 bytes through padding extra fields, ZIP64 records for archives or entries past 4 GiB).
// It reads the central directory from the end of the file and each entry at its offset with positioned reads, so a
// multi-GB checkpoint is never loaded as one buffer. STORED and DEFLATE (node:zlib) entries are supported;
// encryption and other methods are refused. Spec: PKWARE APPNOTE.TXT §4.3 (records), §4.5.3 (ZIP64 extra field).
import { promises as fsp } from 'node:fs';
import zlib from 'node:zlib';
import { readFully as readAt, WeightsError } from './safetensors.ts';

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Offset of the local file header. */
  localOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOC = 0x07064b50;
const SIG_CDIR = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

export class ZipReader {
  private constructor(
    readonly file: string,
    private readonly fh: fsp.FileHandle,
    readonly entries: Map<string, ZipEntry>,
  ) {}

  static async open(file: string): Promise<ZipReader> {
    const fh = await fsp.open(file, 'r');
    try {
      const entries = await readCentralDirectory(file, fh);
      return new ZipReader(file, fh, entries);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  names(): string[] { return [...this.entries.keys()]; }

  /** The entry's uncompressed bytes, CRC-checked. */
  async read(name: string): Promise<Uint8Array> {
    const e = this.entries.get(name);
    if (!e) throw new WeightsError(this.file, `zip entry ${name}`, 'not found in the archive');
    const field = `zip entry ${name}`;
    if (e.flags & 1) throw new WeightsError(this.file, field, 'is encrypted');
    const local = await readAt(this.fh, 30, e.localOffset);
    const lv = new DataView(local.buffer, local.byteOffset, local.byteLength);
    if (local.length < 30 || lv.getUint32(0, true) !== SIG_LOCAL) {
      throw new WeightsError(this.file, field, `no local file header at offset ${e.localOffset} (corrupt or truncated archive)`);
    }
    const dataStart = e.localOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
    const raw = await readAt(this.fh, e.compressedSize, dataStart);
    if (raw.length !== e.compressedSize) {
      throw new WeightsError(this.file, field, `truncated: ${e.compressedSize} bytes expected at offset ${dataStart}, ${raw.length} available`);
    }
    let out: Uint8Array;
    if (e.method === 0) out = raw;
    else if (e.method === 8) {
      try {
        const b = zlib.inflateRawSync(raw);
        out = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      } catch (err) {
        throw new WeightsError(this.file, field, `deflate data is corrupt: ${(err as Error).message}`);
      }
    } else throw new WeightsError(this.file, field, `compression method ${e.method} is not supported (only stored and deflate)`);
    if (out.length !== e.size) throw new WeightsError(this.file, field, `size ${out.length} differs from the directory's ${e.size}`);
    if (crc32(out) !== e.crc32) throw new WeightsError(this.file, field, 'CRC-32 mismatch (corrupt archive)');
    return out;
  }

  async close(): Promise<void> { await this.fh.close(); }
}

function u64(v: DataView, off: number): number {
  const x = v.getBigUint64(off, true);
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`64-bit field ${x} is too large`);
  return Number(x);
}

async function readCentralDirectory(file: string, fh: fsp.FileHandle): Promise<Map<string, ZipEntry>> {
  const size = (await fh.stat()).size;
  // The end-of-central-directory record is 22 bytes plus a comment of at most 65535 bytes.
  const tailLen = Math.min(size, 22 + 65535 + 20);
  const tail = await readAt(fh, tailLen, size - tailLen);
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === SIG_EOCD) { eocd = i; break; }
  }
  if (eocd < 0) throw new WeightsError(file, 'zip end of central directory', 'not found (truncated file or not a zip archive)');
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // ZIP64: a 20-byte locator sits right before the EOCD and points to the ZIP64 EOCD record.
    if (eocd < 20 || tv.getUint32(eocd - 20, true) !== SIG_EOCD64_LOC) {
      throw new WeightsError(file, 'zip64 end of central directory locator', 'missing although the EOCD needs it');
    }
    const recOff = u64(tv, eocd - 20 + 8);
    const rec = await readAt(fh, 56, recOff);
    const rv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
    if (rec.length < 56 || rv.getUint32(0, true) !== SIG_EOCD64) throw new WeightsError(file, 'zip64 end of central directory', `no record at offset ${recOff}`);
    count = u64(rv, 32);
    cdSize = u64(rv, 40);
    cdOffset = u64(rv, 48);
  }
  if (cdOffset + cdSize > size) {
    throw new WeightsError(file, 'zip central directory', `[${cdOffset}, ${cdOffset + cdSize}) lies beyond the end of the file (${size} bytes; truncated?)`);
  }
  const cd = await readAt(fh, cdSize, cdOffset);
  const cv = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const entries = new Map<string, ZipEntry>();
  const dec = new TextDecoder('utf-8');
  let p = 0;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cd.length || cv.getUint32(p, true) !== SIG_CDIR) throw new WeightsError(file, 'zip central directory', `entry ${k} is malformed`);
    const flags = cv.getUint16(p + 8, true);
    const method = cv.getUint16(p + 10, true);
    const crc32 = cv.getUint32(p + 16, true);
    let compressedSize = cv.getUint32(p + 20, true);
    let usize = cv.getUint32(p + 24, true);
    const nameLen = cv.getUint16(p + 28, true);
    const extraLen = cv.getUint16(p + 30, true);
    const commentLen = cv.getUint16(p + 32, true);
    let localOffset = cv.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen > cd.length) throw new WeightsError(file, 'zip central directory', `entry ${k} runs past the directory`);
    const name = dec.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extra field (id 1): the 64-bit values of exactly those fields that read 0xFFFFFFFF, in this order.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = cv.getUint16(x, true);
      const len = cv.getUint16(x + 2, true);
      if (id === 1) {
        let q = x + 4;
        if (usize === 0xffffffff) { usize = u64(cv, q); q += 8; }
        if (compressedSize === 0xffffffff) { compressedSize = u64(cv, q); q += 8; }
        if (localOffset === 0xffffffff) { localOffset = u64(cv, q); q += 8; }
      }
      x += 4 + len;
    }
    if (localOffset + 30 > size) throw new WeightsError(file, `zip entry ${name}`, `local header offset ${localOffset} is beyond the file`);
    entries.set(name, { name, method, flags, crc32, compressedSize, size: usize, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

// zlib.crc32 exists from Node 20.15; older 20.x get the table-driven version.
let table: Uint32Array | null = null;
function crc32(b: Uint8Array): number {
  const native = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
  if (native) return native(b) >>> 0;
  if (!table) {
    table = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[i] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = table[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
