// Parse RRSIS-D's `refs(unc).p` once and keep a JSON copy, so later runs skip the pickle.
//
// Cache location: `<pickle>.cache.json` beside the pickle; if that folder is read-only, a file under
// `<os.tmpdir()>/fianet-refs-cache/` named by a hash of the pickle's absolute path.
// Validity: the cache stores the pickle's size, mtime and SHA-256 plus a format version. It is used
// only when the size and SHA-256 match the current pickle and the version is ours; mtime is kept for
// humans (a copy or `touch` of an identical file still hits). Hashing a ~10 MB pickle costs tens of
// milliseconds, far less than re-parsing and re-validating it.

import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPickle, PickleError } from '../io/pickle.ts';

/** One sentence of a ref (DATASETS.md §3.2). */
export interface ReferSentence {
  raw: string;
  sent: string;
  sent_id: number;
  tokens: string[];
}

/** One ref dict from `refs(unc).p`, keys exactly as Python wrote them. */
export interface ReferRef {
  ref_id: number;
  ann_id: number;
  image_id: number;
  category_id: number;
  split: string;
  file_name?: string;
  sent_ids: number[];
  sentences: ReferSentence[];
}

const CACHE_VERSION = 1;

interface CacheFile {
  version: number;
  source: { path: string; size: number; mtimeMs: number; sha256: string };
  refs: ReferRef[];
}

export class ReferError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'ReferError';
  }
}

function cachePaths(picklePath: string): string[] {
  const abs = path.resolve(picklePath);
  const key = createHash('sha1').update(abs).digest('hex').slice(0, 16);
  return [`${abs}.cache.json`, path.join(os.tmpdir(), 'fianet-refs-cache', `${key}.json`)];
}

/** Check that the unpickled value has the shape §3.2 promises, naming the first bad ref. */
export function validateRefs(value: unknown, file: string): ReferRef[] {
  if (!Array.isArray(value)) throw new ReferError(file, 'expected a list of ref dicts at the top level');
  value.forEach((r, i) => {
    const where = `ref #${i}`;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new ReferError(file, `${where} is not a dict`);
    const ref = r as Record<string, unknown>;
    for (const k of ['ref_id', 'ann_id', 'image_id', 'category_id'] as const) {
      if (typeof ref[k] !== 'number' || !Number.isInteger(ref[k])) throw new ReferError(file, `${where}: ${k} is not an int`);
    }
    if (typeof ref.split !== 'string') throw new ReferError(file, `${where} (ref_id ${ref.ref_id}): split is not a str`);
    if (!Array.isArray(ref.sentences) || ref.sentences.length === 0) {
      throw new ReferError(file, `${where} (ref_id ${ref.ref_id}): sentences is not a non-empty list`);
    }
    ref.sentences.forEach((s: unknown, j: number) => {
      const sd = s as Record<string, unknown> | null;
      if (!sd || typeof sd !== 'object' || typeof sd.raw !== 'string' || typeof sd.sent_id !== 'number') {
        throw new ReferError(file, `${where} (ref_id ${ref.ref_id}): sentence ${j} lacks a str raw and an int sent_id`);
      }
    });
    if (!Array.isArray(ref.sent_ids)) ref.sent_ids = (ref.sentences as ReferSentence[]).map((s) => s.sent_id);
  });
  return value as ReferRef[];
}

/** Parse the pickle bytes into refs (no caching). */
export function parseRefsPickle(bytes: Uint8Array, file: string): ReferRef[] {
  return validateRefs(loadPickle(bytes, { file }), file);
}

async function readCache(file: string, size: number, sha256: string): Promise<ReferRef[] | undefined> {
  try {
    const c = JSON.parse(await fs.readFile(file, 'utf8')) as CacheFile;
    if (c.version === CACHE_VERSION && c.source?.size === size && c.source?.sha256 === sha256 && Array.isArray(c.refs)) {
      return c.refs;
    }
  } catch {
    // missing or unreadable cache: fall through and rebuild
  }
  return undefined;
}

async function writeCache(file: string, content: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(tmp, content);
    await fs.rename(tmp, file);
    return true;
  } catch {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    return false;
  }
}

export interface LoadRefsResult {
  refs: ReferRef[];
  /** Where the cache was read from or written to; undefined if no location was writable. */
  cachePath?: string;
  fromCache: boolean;
}

/** Load `refs(unc).p` through the JSON cache. */
export async function loadRefsWithInfo(picklePath: string): Promise<LoadRefsResult> {
  let bytes: Uint8Array;
  let stat: { size: number; mtimeMs: number };
  try {
    stat = await fs.stat(picklePath);
    bytes = await fs.readFile(picklePath);
  } catch {
    throw new ReferError(picklePath, 'refs pickle is missing or unreadable');
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const candidates = cachePaths(picklePath);
  for (const c of candidates) {
    const refs = await readCache(c, stat.size, sha256);
    if (refs) return { refs, cachePath: c, fromCache: true };
  }
  let refs: ReferRef[];
  try {
    refs = parseRefsPickle(bytes, picklePath);
  } catch (err) {
    if (err instanceof PickleError || err instanceof ReferError) throw err;
    throw new ReferError(picklePath, `cannot parse refs pickle (${(err as Error).message})`);
  }
  const cache: CacheFile = {
    version: CACHE_VERSION,
    source: { path: path.resolve(picklePath), size: stat.size, mtimeMs: stat.mtimeMs, sha256 },
    refs,
  };
  let text: string;
  try {
    text = JSON.stringify(cache);
  } catch {
    // A field JSON cannot hold (a bigint, say): serve the refs, skip the cache.
    return { refs, fromCache: false };
  }
  for (const c of candidates) {
    if (await writeCache(c, text)) return { refs, cachePath: c, fromCache: false };
  }
  return { refs, fromCache: false };
}

export async function loadRefs(picklePath: string): Promise<ReferRef[]> {
  return (await loadRefsWithInfo(picklePath)).refs;
}
