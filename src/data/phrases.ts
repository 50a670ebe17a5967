// FIANet's decoupled-text masks m_G (ground object) and m_S (spatial position), FIANET.md §4 and
// DATASETS.md §9. The reference builds them in its dataset classes with NLTK:
//
//   words = word_tokenize(raw)
//   m_G: for cls in CLASSES: if re.findall(cls, raw): i = first word containing word_tokenize(cls)[0] (else 0)
//        m_G[i+1 : i+1+n_cls] = 1
//   m_S: PP chunks of pos_tag(words) with RegexpParser("PP: {<IN><DT>?<JJ.*>?<NN>} {<IN><DT>?<JJ.*>?<JJ>}
//        {<IN><DT>?<JJ.*><VBD>}"); drop phrases containing "of"; i = first word == phrase's first word (else 0);
//        m_S[i+1 : i+1+n_pp] = 1; if m_S is all zero it becomes m_C.
//
// `official` reproduces that, word index = token index quirks included, clipped at L. `aligned` keeps the same
// phrases but marks the WordPiece positions the words really occupy (the tokenizer's character spans).
//
// What cannot be bit-exact: NLTK's averaged-perceptron tagger has no JS port, so tags come from a swappable
// PosTagger (default en-pos plus one correction, see below). word_tokenize and the chunker are ports.
import { Tag } from 'en-pos';
import { BertTokenizer, type Piece } from './tokenizer.ts';
import { CLASS_VOCAB } from './vocab.ts';
import type { DatasetName } from './types.ts';

export type PhraseMode = 'official' | 'aligned';

export { CLASS_VOCAB };

// ---------------------------------------------------------------------------------------------------------------
// word_tokenize: Punkt sentence split (reduced, see splitSentences) + NLTKWordTokenizer (NLTK 3.8, the improved
// Treebank tokenizer that word_tokenize calls). Python regex semantics are emulated: `\w`, `\d`, `\s` and `\b`
// are Unicode-aware in Python but ASCII in JS, so they are spelled out below.

const PYS = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const W = '[\\p{L}\\p{N}_]'; // Python's str \w (alphanumerics per str.isalnum, plus '_')
const NOT_W_BEFORE = '(?<![\\p{L}\\p{N}_])'; // \b before a word character
const NOT_W_AFTER = '(?![\\p{L}\\p{N}_])'; // \b after a word character
const re = (src: string, flags = 'gu') => new RegExp(src, flags);

type Sub = [RegExp, string];
const STARTING_QUOTES: Sub[] = [
  [re('([«“‘„]|[`]+)'), ' $1 '],
  [re('^"', 'u'), '``'],
  [re('(``)'), ' $1 '],
  [re('([ ([{<])("|\'{2})'), '$1 `` '],
  [re(`(')(?!re|ve|ll|m|t|s|d|n)(${W})${NOT_W_AFTER}`, 'giu'), '$1 $2'],
];
const ENDING_QUOTES: Sub[] = [
  [re('([»”’])'), ' $1 '],
  [re("''"), " '' "],
  [re('"'), " '' "],
  [re("([^' ])('[sS]|'[mM]|'[dD]|') "), '$1 $2 '],
  [re("([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), '$1 $2 '],
];
const PUNCTUATION: Sub[] = [
  [re(`([^.])(\\.)([\\])}>"'»”’ ]*)[${PYS}]*$`, 'u'), '$1 $2 $3 '],
  [re('([:,])([^\\p{Nd}])'), ' $1 $2'],
  [re('([:,])(?=\\n?$)', 'u'), ' $1 '], // Python `$` also matches before a final newline
  [re('\\.{2,}'), ' $& '],
  [re('[;@#$%&]'), ' $& '],
  [re(`([^.])(\\.)([\\])}>"']*)[${PYS}]*$`, 'u'), '$1 $2$3 '],
  [re('[?!]'), ' $& '],
  [re("([^'])' "), "$1 ' "],
  [re('[*]'), ' $& '],
];
const PARENS_BRACKETS: Sub = [re('[\\][(){}<>]'), ' $& '];
const DOUBLE_DASHES: Sub = [re('--'), ' -- '];
const CONTRACTIONS: RegExp[] = [
  ...['(can)(not)', "(d)('ye)", '(gim)(me)', '(gon)(na)', '(got)(ta)', '(lem)(me)', "(more)('n)"]
    .map((p) => re(`${NOT_W_BEFORE}${p}${NOT_W_AFTER}`, 'giu')),
  re(`${NOT_W_BEFORE}(wan)(na)(?=[${PYS}])`, 'giu'),
  re(` ('t)(is)${NOT_W_AFTER}`, 'giu'),
  re(` ('t)(was)${NOT_W_AFTER}`, 'giu'),
];
const PY_SPLIT = re(`[${PYS}]+`);

/** NLTKWordTokenizer.tokenize (convert_parentheses=False) on one sentence. */
export function treebankTokenize(sentence: string): string[] {
  let text = sentence;
  for (const [r, s] of STARTING_QUOTES) text = text.replace(r, s);
  for (const [r, s] of PUNCTUATION) text = text.replace(r, s);
  text = text.replace(PARENS_BRACKETS[0], PARENS_BRACKETS[1]);
  text = text.replace(DOUBLE_DASHES[0], DOUBLE_DASHES[1]);
  text = ' ' + text + ' ';
  for (const [r, s] of ENDING_QUOTES) text = text.replace(r, s);
  for (const r of CONTRACTIONS) text = text.replace(r, ' $1 $2 ');
  return text.split(PY_SPLIT).filter((t) => t !== '');
}

// Abbreviations that the English Punkt model knows and that could plausibly appear in these datasets.
const PUNKT_ABBREVIATIONS = new Set(['mr', 'mrs', 'ms', 'dr', 'st', 'vs', 'etc', 'e.g', 'i.e', 'approx', 'no', 'fig',
  'inc', 'co', 'corp', 'ltd', 'jr', 'sr', 'u.s', 'u.k', 'ft', 'mt', 'ave', 'rd', 'jan', 'feb', 'mar', 'apr', 'jun',
  'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec']);

/**
 * The part of Punkt (sent_tokenize, English) that changes word tokens for short referring expressions: a word
 * ending in "." followed by whitespace and another token ends a sentence, so its period is split off by the
 * word tokenizer ("dam. On" -> "dam", ".", "On"), unless the word is a known abbreviation, or an initial or a
 * number followed by a lower-case word (Punkt's orthographic heuristic). "?" and "!" always end sentences (the
 * word tokenizer splits them anyway). The full model (learned abbreviations, collocations, sentence starters)
 * is not ported; no dataset sentence needs it.
 */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  const candidate = re(`([^${PYS}]*)([.?!])(?=[${PYS}]+([^${PYS}]+))`);
  let last = 0;
  for (let m = candidate.exec(text); m !== null; m = candidate.exec(text)) {
    const word = m[1]! + m[2]!;
    const next = m[3]!;
    let isBreak = true;
    if (m[2] === '.') {
      const type = word.slice(0, -1).toLowerCase();
      const nextLower = /^\p{Ll}/u.test(next);
      if (/^\.+$/.test(word)) isBreak = /^\p{Lu}/u.test(next); // ellipsis
      else if (PUNKT_ABBREVIATIONS.has(type.replace(/^[^\p{L}]+/u, ''))) isBreak = false;
      else if ((/^\p{L}$/u.test(type) || /^-?[.,]?\d[\d,.-]*$/u.test(type)) && nextLower) isBreak = false;
    }
    if (!isBreak) continue;
    const end = m.index + m[0].length;
    out.push(text.slice(last, end));
    last = text.indexOf(next, end);
    candidate.lastIndex = last;
  }
  out.push(text.slice(last).replace(re(`[${PYS}]+$`, 'u'), ''));
  return out.filter((s) => s !== '');
}

/** nltk.word_tokenize(text) (language='english', preserve_line=False). */
export function wordTokenize(text: string): string[] {
  return splitSentences(text).flatMap(treebankTokenize);
}

/**
 * Character spans of word tokens in `text`, like nltk.tokenize.util.align_tokens: each token is searched from
 * the end of the previous one; the tokenizer's `` and '' stand for a straight double quote in the text.
 */
export function alignWords(words: string[], text: string): { start: number; end: number }[] {
  let pos = 0;
  return words.map((w) => {
    const options: [number, number][] = [[text.indexOf(w, pos), w.length]];
    if (w === '``' || w === "''") options.push([text.indexOf('"', pos), 1]);
    const found = options.filter(([at]) => at >= 0).sort((x, y) => x[0] - y[0])[0];
    if (!found) return { start: pos, end: pos }; // not in the text (cannot happen for this tokenizer): no span
    const [at, len] = found;
    pos = at + len;
    return { start: at, end: at + len };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// POS tagging, behind a small interface so a better tagger (or tags precomputed with NLTK) can be swapped in.

export interface PosTagger {
  readonly name: string;
  /** One Penn Treebank tag per word. */
  tag(words: string[]): string[];
}

/** en-pos (lexicon + Brill rules); agreed best with hand-labelled NLTK tags on dataset sentences. */
export const enPosTagger: PosTagger = {
  name: 'en-pos@1.0.16',
  tag(words) {
    if (words.length === 0) return [];
    return new Tag(words).initial().smooth().tags;
  },
};

/**
 * Corrects the one spatial word whose tag the masks hinge on. Lexicon taggers say "left" = VBN everywhere.
 * NLTK's perceptron tags it VBD after an adjective ("the upper left", FIANET.md §4.3, which is why the grammar
 * has a <JJ.*><VBD> pattern) and, by our reading, NN right after a determiner ("on the left"; had it been a
 * verb there too, the grammar would need a <DT><VBD> pattern, which the authors did not add).
 */
export function withNltkSpatialFixes(base: PosTagger): PosTagger {
  return {
    name: `${base.name}+nltk-spatial`,
    tag(words) {
      const tags = base.tag(words);
      for (let i = 1; i < words.length; i++) {
        if (words[i]!.toLowerCase() !== 'left') continue;
        const prev = tags[i - 1]!;
        if (prev.startsWith('JJ')) tags[i] = 'VBD';
        else if (prev === 'DT') tags[i] = 'NN';
      }
      return tags;
    },
  };
}

/** Tags from a table (e.g. exported from Python NLTK), falling back to another tagger for unseen sentences. */
export function tableTagger(table: Map<string, string[]>, fallback: PosTagger): PosTagger {
  return {
    name: `table+${fallback.name}`,
    tag(words) {
      const hit = table.get(words.join(' '));
      return hit && hit.length === words.length ? [...hit] : fallback.tag(words);
    },
  };
}

export const defaultTagger: PosTagger = withNltkSpatialFixes(enPosTagger);

// ---------------------------------------------------------------------------------------------------------------
// RegexpParser port for FIANet's one-stage PP grammar: each rule is turned into a regex over the "<TAG><TAG>…"
// chunk string exactly as nltk.chunk.regexp.tag_pattern2re_pattern does, and applied in order; a rule cannot
// match inside an earlier chunk (ChunkString.IN_STRIP_PATTERN).

export const PP_GRAMMAR = ['<IN><DT>?<JJ.*>?<NN>', '<IN><DT>?<JJ.*>?<JJ>', '<IN><DT>?<JJ.*><VBD>'];

function tagPatternToRegex(pattern: string): RegExp {
  const body = pattern.replace(/\s/g, '').replace(/</g, '(<(').replace(/>/g, ')>)').replace(/\./g, '[^{}<>]');
  return new RegExp(`(${body})(?=[^}]*(\\{|$))`, 'g');
}
const PP_RULES = PP_GRAMMAR.map(tagPatternToRegex);

/** PP chunks as [start, end) word index ranges, in sentence order. */
export function chunkPP(tags: string[]): [number, number][] {
  if (tags.length === 0) return [];
  let s = '<' + tags.join('><') + '>';
  for (const rule of PP_RULES) s = s.replace(rule, '{$1}').replace(/\{\}/g, '');
  const chunks: [number, number][] = [];
  let word = 0;
  let open = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '{') open = word;
    else if (c === '}') { chunks.push([open, word]); open = -1; }
    else if (c === '>') word++;
  }
  return chunks;
}

// ---------------------------------------------------------------------------------------------------------------

export interface PhraseOptions {
  dataset: DatasetName;
  mode: PhraseMode;
  maxLen: number;
  tagger?: PosTagger;
  /** Only for `aligned` when `encoded` carries no `pieces`. Default: BertTokenizer.builtin(). */
  tokenizer?: BertTokenizer;
}

export interface EncodedLike {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  pieces?: Piece[];
}

/** The intermediate analysis, exposed for tests and debugging. */
export interface PhraseAnalysis {
  words: string[];
  tags: string[];
  /** [wordIndex, wordCount] per matched class, as the reference finds them. */
  objects: { cls: string; index: number; count: number }[];
  /** Kept PP phrases (after the "of" filter) with their chunk position and the reference's search index. */
  phrases: { text: string; start: number; end: number; index: number; count: number }[];
}

export function analyzeSentence(sentence: string, dataset: DatasetName, tagger: PosTagger = defaultTagger): PhraseAnalysis {
  const words = wordTokenize(sentence);
  const objects: PhraseAnalysis['objects'] = [];
  for (const cls of CLASS_VOCAB[dataset]) {
    if (!sentence.includes(cls)) continue; // re.findall(cls, raw): plain, case-sensitive substring
    const clsWords = wordTokenize(cls);
    const found = words.findIndex((w) => w.includes(clsWords[0]!));
    objects.push({ cls, index: found < 0 ? 0 : found, count: clsWords.length });
  }
  const tags = tagger.tag(words);
  const phrases: PhraseAnalysis['phrases'] = [];
  for (const [start, end] of chunkPP(tags)) {
    const text = words.slice(start, end).join(' ');
    if (text.includes('of')) continue; // also drops "off", "roof", … as the reference does
    const ppWords = wordTokenize(text);
    const found = words.findIndex((w) => w === ppWords[0]);
    phrases.push({ text, start, end, index: found < 0 ? 0 : found, count: ppWords.length });
  }
  return { words, tags, objects, phrases };
}

/** m_G and m_S, each (L,) 0/1, L = opts.maxLen. */
export function phraseMasks(sentence: string, encoded: EncodedLike, opts: PhraseOptions):
  { objectMask: Int32Array; spatialMask: Int32Array } {
  const L = opts.maxLen;
  const a = analyzeSentence(sentence, opts.dataset, opts.tagger ?? defaultTagger);
  const objectMask = new Int32Array(L);
  const spatialMask = new Int32Array(L);
  // Marks positions [from, to) clipped to L (the reference's slice assignment would grow the list instead).
  const mark = (m: Int32Array, from: number, to: number) => { for (let k = from; k < Math.min(to, L); k++) m[k] = 1; };

  if (opts.mode === 'official') {
    // Word index i is taken as token position i+1 ([CLS] first), whatever WordPiece did to earlier words.
    for (const o of a.objects) mark(objectMask, o.index + 1, o.index + 1 + o.count);
    for (const p of a.phrases) mark(spatialMask, p.index + 1, p.index + 1 + p.count);
  } else {
    const pieces = encoded.pieces ?? (opts.tokenizer ?? BertTokenizer.builtin()).encode(sentence, L).pieces;
    const spans = alignWords(a.words, sentence);
    // Every kept piece (not [CLS]/[SEP]/padding) whose source span overlaps one of words [w0, w1).
    const markWords = (m: Int32Array, w0: number, w1: number) => {
      const lo = spans[w0]?.start ?? 0;
      const hi = spans[Math.min(w1, spans.length) - 1]?.end ?? 0;
      pieces.forEach((p, k) => {
        if (k < L && p.end > p.start && p.start < hi && p.end > lo) m[k] = 1;
      });
    };
    // The reference's word search is kept for classes (it defines which words the class is); only the
    // word -> piece mapping changes.
    for (const o of a.objects) markWords(objectMask, o.index, o.index + o.count);
    // A PP is mapped from its own chunk position, not re-searched by its first word (two "in" phrases would
    // otherwise both land on the first "in").
    for (const p of a.phrases) markWords(spatialMask, p.start, p.end);
  }
  // Fallback (both modes): no PP marked anywhere -> use the whole sentence, m_S = m_C.
  if (!spatialMask.some((v) => v !== 0)) spatialMask.set(encoded.attentionMask.subarray(0, L));
  return { objectMask, spatialMask };
}
