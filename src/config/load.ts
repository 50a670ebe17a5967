// Config files: YAML with `_base_` inheritance (a path or a list of paths, relative to the file; dicts merge
// recursively, lists and scalars replace), dotted `--set key=value` overrides (values parsed as YAML scalars),
// then schema validation. The resolved config is what a run folder stores.
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { ConfigError, validate, type Schema } from './schema.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObj(v) && isObj(out[k]) ? deepMerge(out[k] as Obj, v) : v;
  return out;
}

/** Reads a YAML config and its `_base_` chain (cycles are errors). */
export function readConfigFile(file: string, seen: string[] = []): Obj {
  const abs = path.resolve(file);
  if (seen.includes(abs)) throw new ConfigError('_base_', `inheritance cycle: ${[...seen, abs].join(' -> ')}`, file);
  if (!existsSync(abs)) throw new ConfigError('(file)', `config file not found`, abs);
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(abs, 'utf8'));
  } catch (e) {
    throw new ConfigError('(file)', `invalid YAML: ${(e as Error).message}`, abs);
  }
  if (doc === undefined || doc === null) doc = {};
  if (!isObj(doc)) throw new ConfigError('(root)', 'expected a mapping at the top level', abs);
  const { _base_: bases, ...rest } = doc;
  let merged: Obj = {};
  const list = bases === undefined ? [] : Array.isArray(bases) ? bases : [bases];
  for (const b of list) {
    if (typeof b !== 'string') throw new ConfigError('_base_', `expected a path or a list of paths, found ${JSON.stringify(b)}`, abs);
    merged = deepMerge(merged, readConfigFile(path.resolve(path.dirname(abs), b), [...seen, abs]));
  }
  return deepMerge(merged, rest);
}

/** Applies `a.b.c=value` overrides; the value is parsed as YAML (numbers, booleans, lists, null). */
export function applyOverrides(cfg: Obj, overrides: readonly string[]): Obj {
  let out = cfg;
  for (const o of overrides) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new ConfigError(o, "expected --set key.path=value");
    const keyPath = o.slice(0, eq).split('.');
    const raw = o.slice(eq + 1);
    let value: unknown;
    try {
      value = yaml.load(raw);
    } catch {
      value = raw;
    }
    if (value === undefined) value = raw;
    const patch: Obj = {};
    let cur = patch;
    keyPath.forEach((k, i) => {
      if (i === keyPath.length - 1) cur[k] = value;
      else cur = cur[k] = {} as Obj;
    });
    out = deepMerge(out, patch);
  }
  return out;
}

export function loadConfig<T>(file: string, schema: Schema, overrides: readonly string[] = []): T {
  const merged = applyOverrides(readConfigFile(file), overrides);
  return validate(merged, schema, '', path.resolve(file)) as T;
}

export function dumpConfig(cfg: unknown): string {
  return yaml.dump(cfg, { lineWidth: 120, noRefs: true, sortKeys: false });
}
