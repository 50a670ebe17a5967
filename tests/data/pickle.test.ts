import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dumpPickle, type DumpValue, loadPickle, PickleError, PickleFloat, PickleGlobalRef } from '../../src/io/pickle.ts';

const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'data', 'pkl');
const read = (name: string) => new Uint8Array(readFileSync(path.join(FIX, name)));

const APPENDIX_B = [{
  image_id: 110, split: 'val',
  sentences: [{ tokens: ['The', 'large', 'dam'], raw: 'The large dam', sent_id: 110, sent: 'The large dam' }],
  file_name: '00110.jpg', category_id: 8, ann_id: 110, sent_ids: [110], ref_id: 110,
}];

for (const p of [2, 3, 4]) {
  test(`Appendix B protocol ${p} (written by CPython) parses to the ref`, () => {
    const v = loadPickle(read(`appendix_b_p${p}.pkl`), { file: `appendix_b_p${p}.pkl` });
    assert.equal(v, APPENDIX_B);
    // Key order is the pickle's (Python dict order).
    assert.equal(Object.keys((v as Record<string, unknown>[])[0]!), Object.keys(APPENDIX_B[0]!));
  });
}

test('Appendix B hex vectors match the committed CPython output', () => {
  const p2 = '80025d71007d7101285808000000696d6167655f696471024b6e';
  const p4 = '800495d0000000000000005d947d94288c08696d6167655f6964944b6e';
  assert.is(Buffer.from(read('appendix_b_p2.pkl')).toString('hex').slice(0, p2.length), p2);
  assert.is(Buffer.from(read('appendix_b_p4.pkl')).toString('hex').slice(0, p4.length), p4);
  assert.is(read('appendix_b_p2.pkl').length, 288);
  assert.is(read('appendix_b_p4.pkl').length, 219);
});

/** Render loader output in the JSON form make_fixtures.py writes (bigint and bytes tagged). */
function toJsonish(v: unknown): unknown {
  if (typeof v === 'bigint') return { bigint: v.toString() };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('hex') };
  if (Array.isArray(v)) return v.map(toJsonish);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJsonish(x)]));
  return v;
}

const richExpected = JSON.parse(readFileSync(path.join(FIX, 'rich_expected.json'), 'utf8'));
for (let p = 0; p <= 5; p++) {
  test(`rich object, protocol ${p}: every plain type, batches > 1000, memo > 255`, () => {
    const v = loadPickle(read(`rich_p${p}.pkl`), { file: `rich_p${p}.pkl` }) as Record<string, unknown>;
    assert.equal(toJsonish(v), richExpected);
    assert.is(typeof (v.bigints as unknown[])[0], 'bigint');
    assert.ok(v.bytes instanceof Uint8Array);
    // Shared references stay shared (memo holds the same object).
    const shared = v.shared_twice as unknown[][];
    if (p > 0) assert.ok(shared[0] === shared[1], 'memo must return the same object');
  });
}

test('dicts: map mode keeps non-string keys', () => {
  const v = loadPickle(read('rich_p2.pkl'), { dicts: 'map' }) as Map<unknown, unknown>;
  assert.ok(v instanceof Map);
  const ik = v.get('int_keys') as Map<unknown, unknown>;
  assert.is(ik.get(1), 'one');
});

test('sets: protocol 2 (builtins.set via REDUCE, allowed as plain data) and 4 (opcodes)', () => {
  for (const p of [2, 4]) {
    const v = loadPickle(read(`sets_p${p}.pkl`), { file: `sets_p${p}.pkl` }) as Set<unknown>[];
    assert.equal(v.map((s) => [...s].sort()), [[1, 2, 3], ['a'], []]);
    assert.ok(v[0] instanceof Set);
  }
});

test('truncated pickle: clear error with file, opcode and offset', () => {
  const bytes = read('appendix_b_p2.pkl');
  for (const cut of [1, 3, 20, 100, bytes.length - 1]) {
    try {
      loadPickle(bytes.subarray(0, cut), { file: 'refs(unc).p' });
      assert.unreachable('should throw');
    } catch (err) {
      assert.instance(err, PickleError);
      const msg = (err as Error).message;
      assert.match(msg, 'refs(unc).p');
      assert.match(msg, /truncated|without a STOP/);
      assert.match(msg, /byte offset \d+/);
    }
  }
});

test('a pickle that calls os.system via REDUCE is refused at GLOBAL', () => {
  try {
    loadPickle(read('evil_reduce.pkl'), { file: 'evil_reduce.pkl' });
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, PickleError);
    const msg = (err as Error).message;
    assert.match(msg, 'evil_reduce.pkl');
    assert.match(msg, /posix\.system|os\.system/);
    assert.match(msg, /GLOBAL \(0x63\)|STACK_GLOBAL \(0x93\)/);
    assert.match(msg, 'allow-list');
  }
});

test('a pickle whose callable is not allow-listed cannot slip through REDUCE', () => {
  // PROTO 2, EMPTY_TUPLE, EMPTY_TUPLE, REDUCE, STOP: calling a non-global
  const bytes = Uint8Array.from([0x80, 0x02, 0x29, 0x29, 0x52, 0x2e]);
  assert.throws(() => loadPickle(bytes, { file: 'x.p' }), /x\.p.*REDUCE \(0x52\).*not an allow-listed global/);
});

test('torch-like pickle: allow-listed globals, REDUCE, BUILD and persistent ids', () => {
  const pids: unknown[] = [];
  const v = loadPickle(read('torch_like.pkl'), {
    file: 'torch_like.pkl',
    globals: {
      'collections.OrderedDict': () => new Map(),
      '__main__.rebuild_fake_tensor': (args) => ({ tensor: args }),
      '__main__.Point': { call: () => ({ kind: 'Point' }), build: (obj, state) => ({ ...(obj as object), ...(state as object) }) },
      'copyreg.__newobj__': (args) => args,
    },
    persistentLoad: (pid) => { pids.push(pid); return { storage: (pid as unknown[])[2] }; },
  }) as Record<string, unknown>;
  assert.is(v.epoch, 7);
  assert.equal(v.point, { kind: 'Point', x: 1, y: 2 });
  const sd = v.state_dict as Map<string, { tensor: unknown[] }>;
  assert.ok(sd instanceof Map);
  assert.equal([...sd.keys()], ['layer.weight', 'layer.bias']);
  const w = sd.get('layer.weight')!.tensor;
  assert.equal(w.slice(0, 4), [{ storage: '0' }, 0, [2, 3], [3, 1]]);
  assert.is(pids.length, 2);
  const pid0 = pids[0] as unknown[];
  assert.is(pid0[0], 'storage');
  assert.ok(pid0[1] instanceof PickleGlobalRef);
  assert.is((pid0[1] as PickleGlobalRef).qualifiedName, 'collections.OrderedDict');
  // Without hooks the same file is refused, naming the global.
  assert.throws(() => loadPickle(read('torch_like.pkl'), { file: 't.pkl' }), /t\.pkl.*collections\.OrderedDict/);
});

test('persistent id without a hook is refused', () => {
  const bytes = Uint8Array.from([0x80, 0x02, 0x4b, 0x01, 0x51, 0x2e]); // BININT1 1, BINPERSID
  assert.throws(() => loadPickle(bytes, { file: 'p.pth' }), /p\.pth.*BINPERSID \(0x51\).*persistentLoad/);
});

test('unknown opcode and bad memo index are named', () => {
  assert.throws(() => loadPickle(Uint8Array.from([0x80, 0x02, 0xff]), { file: 'u.p' }), /u\.p.*byte offset 2.*unknown opcode 0xff/);
  assert.throws(() => loadPickle(Uint8Array.from([0x80, 0x02, 0x68, 0x05, 0x2e]), { file: 'm.p' }), /BINGET \(0x68\).*memo index 5/);
});

const REFS_LIKE: DumpValue[] = [
  { ref_id: 1, split: 'train', sentences: [{ raw: 'The dam', tokens: ['The', 'dam'], sent_id: 1 }], score: 0.25, none: null },
  { ref_id: 70000, split: 'test', big: -3_000_000_000, neg: -5, flt: new PickleFloat(2), uni: 'caf\u00e9', yes: true },
];

for (const proto of [2, 3, 4] as const) {
  test(`dumpPickle protocol ${proto} round-trips through loadPickle`, () => {
    const back = loadPickle(dumpPickle(REFS_LIKE, proto)) as Record<string, unknown>[];
    assert.equal(back[0], REFS_LIKE[0]);
    assert.is(back[1]!.big, -3_000_000_000);
    assert.is(back[1]!.flt, 2);
    assert.is(back[1]!.uni, 'caf\u00e9');
  });
}

test('dumpPickle: batches of 1000 and a cycle error', () => {
  const big = Array.from({ length: 2500 }, (_, i) => ({ i }));
  assert.equal(loadPickle(dumpPickle(big, 2)), big);
  const cyc: unknown[] = [];
  cyc.push(cyc);
  assert.throws(() => dumpPickle(cyc as never, 2), /cyclic/);
});

const PY = '/usr/bin/python3';
const hasPython = existsSync(PY) && spawnSync(PY, ['-c', 'import pickle'], { encoding: 'utf8' }).status === 0;
test('dumpPickle output is read by CPython pickle.load (skipped without python3)', () => {
  if (!hasPython) { console.log('  (python3 not available: skipped)'); return; }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fianet-pickle-'));
  try {
    for (const proto of [2, 3, 4] as const) {
      const file = path.join(dir, `refs(unc)_${proto}.p`);
      writeFileSync(file, dumpPickle(REFS_LIKE, proto));
      const r = spawnSync(PY, ['-c', `
import json, pickle, sys
v = pickle.load(open(sys.argv[1], 'rb'))
assert isinstance(v[1]['flt'], float) and isinstance(v[1]['big'], int)
print(json.dumps(v, sort_keys=True))`, file], { encoding: 'utf8' });
      assert.is(r.status, 0, r.stderr);
      const got = JSON.parse(r.stdout);
      assert.equal(got[0], JSON.parse(JSON.stringify(REFS_LIKE[0])));
      assert.is(got[1].big, -3_000_000_000);
      assert.is(got[1].flt, 2);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
