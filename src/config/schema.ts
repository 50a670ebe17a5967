// A small typed-schema DSL for configs: every field has a type, a default and a doc line; validation errors
// name the key path, what was expected, what was found and, for enums or unknown keys, the valid choices.

export type FieldSpec =
  | { type: 'number'; default?: number | null; min?: number; max?: number; nullable?: boolean; doc: string }
  | { type: 'int'; default?: number | null; min?: number; max?: number; nullable?: boolean; doc: string }
  | { type: 'string'; default?: string | null; nullable?: boolean; doc: string }
  | { type: 'boolean'; default?: boolean; doc: string }
  | { type: 'enum'; choices: readonly string[]; default?: string; doc: string }
  | { type: 'list'; item: FieldSpec; default?: unknown[] | null; nullable?: boolean; length?: number; doc: string }
  | { type: 'object'; fields: Schema; doc: string };

export type Schema = Record<string, FieldSpec>;

export class ConfigError extends Error {
  constructor(readonly path: string, message: string, readonly file?: string) {
    super(`${file ? `${file}: ` : ''}${path}: ${message}`);
    this.name = 'ConfigError';
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'string') return `'${v}' (string)`;
  if (typeof v === 'object') return 'a mapping';
  return `${String(v)} (${typeof v})`;
}

/** Levenshtein distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)] as number[]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

export function suggest(key: string, options: readonly string[]): string {
  const best = [...options].sort((x, y) => distance(key, x) - distance(key, y))[0];
  return best !== undefined && distance(key, best) <= Math.max(2, key.length / 3) ? ` (did you mean '${best}'?)` : '';
}

/** Checks and fills defaults: returns a new object with every schema key present. */
export function validate(value: unknown, schema: Schema, path = '', file?: string): Record<string, unknown> {
  if (value === undefined || value === null) value = {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(path || '(root)', `expected a mapping, found ${describe(value)}`, file);
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(schema);
  for (const k of Object.keys(obj)) {
    if (!(k in schema)) {
      throw new ConfigError(path ? `${path}.${k}` : k, `unknown key${suggest(k, keys)}; valid keys here: ${keys.join(', ')}`, file);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(schema)) out[k] = validateField(obj[k], spec, path ? `${path}.${k}` : k, file);
  return out;
}

function validateField(v: unknown, spec: FieldSpec, path: string, file?: string): unknown {
  if (spec.type === 'object') return validate(v, spec.fields, path, file);
  if (v === undefined) {
    if (spec.default === undefined) throw new ConfigError(path, `required (${spec.doc})`, file);
    return spec.default;
  }
  if (v === null && 'nullable' in spec && spec.nullable) return null;
  const fail = (expected: string): never => {
    throw new ConfigError(path, `expected ${expected}, found ${describe(v)}`, file);
  };
  switch (spec.type) {
    case 'number':
    case 'int': {
      if (typeof v !== 'number' || !Number.isFinite(v) || (spec.type === 'int' && !Number.isInteger(v))) {
        fail(spec.type === 'int' ? 'an integer' : 'a number');
      }
      const n = v as number;
      if (spec.min !== undefined && n < spec.min) fail(`a value >= ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) fail(`a value <= ${spec.max}`);
      return n;
    }
    case 'string':
      if (typeof v !== 'string') fail('a string');
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') fail('true or false');
      return v;
    case 'enum':
      if (typeof v !== 'string' || !spec.choices.includes(v)) {
        throw new ConfigError(path, `expected one of ${spec.choices.join(', ')}, found ${describe(v)}${typeof v === 'string' ? suggest(v, spec.choices) : ''}`, file);
      }
      return v;
    case 'list': {
      if (!Array.isArray(v)) fail('a list');
      const arr = v as unknown[];
      if (spec.length !== undefined && arr.length !== spec.length) fail(`a list of ${spec.length}`);
      return arr.map((x, i) => validateField(x, spec.item, `${path}[${i}]`, file));
    }
  }
}

/** Lists every leaf of a schema with its type and doc (for `fianet config docs`). */
export function schemaDocs(schema: Schema, path = ''): string[] {
  const out: string[] = [];
  for (const [k, spec] of Object.entries(schema)) {
    const p = path ? `${path}.${k}` : k;
    if (spec.type === 'object') out.push(...schemaDocs(spec.fields, p));
    else {
      const t = spec.type === 'enum' ? spec.choices.join('|') : spec.type;
      out.push(`${p} (${t}${'default' in spec && spec.default !== undefined ? `, default ${JSON.stringify(spec.default)}` : ''}): ${spec.doc}`);
    }
  }
  return out;
}
