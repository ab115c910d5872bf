/**
 * The features the trained Shield model reads, with where each one was found in the text so that a score can say
 * what drove it. Shared by the training script and the scorer, so both see exactly the same features.
 *
 *   word:T      a word of the normalised text (lower case, accents stripped, apostrophes dropped)
 *   phrase:T U  two words in a row
 *   stem:P      the first 5 letters of a word of 6 or more (catches "cancell", "refnd"-style typos and inflections)
 *   negated:T   a word within 3 words after a negator in the same clause ("not going to sue" → negated:sue)
 *   cue:C       a cue that fired (cues.ts), with the first match as its span
 *   shouting, exclamation, profanity, anger, angry_emoji : how much of each, scaled to about 0–1
 *   lexicon:*   (the combined approach only) the lexicon scorer's points and sentiment
 *
 * Optional families, switched on per model (`FeatureOptions`, chosen by cross-validation when it is trained):
 *   char:G      (chars) 3- and 4-letter pieces of each word padded with "<" and ">", so a misspelt or transliterated
 *               word ("cancle", "refnd", "acount band kro") shares most of its pieces with the spelling seen in training
 *   tone:*      (intensity) how the text is written: share of capitals, count of "!", "?!" runs, stretched letters
 *               ("sooo"), any emoji, praise words, very short or long text
 *   negcue:C    (negation) a threat cue whose match starts inside a negator's scope ("not going to cancel")
 */
import { normaliseWithOffsets, type CueAnalysis, type CueId } from './cues.js';

export interface Span {
  start: number;
  end: number;
}

export interface FeatureVector {
  /** Feature name → value. */
  values: Map<string, number>;
  /** Feature name → where it was first found in the original text (absent for whole-text features). */
  spans: Map<string, Span>;
}

/** Which optional feature families a model reads; stored in the model so scorer and trainer agree. */
export interface FeatureOptions {
  chars?: boolean;
  intensity?: boolean;
  negation?: boolean;
}

/** The lexicon scorer's outputs, for the combined approach. */
export interface LexiconOutputs {
  escalation_points: number;
  intensity_points: number;
  library_sentiment: number;
}

const NEGATOR =
  /^(?:not|no|never|dont|wont|cant|didnt|doesnt|isnt|arent|wasnt|wouldnt|shouldnt|without|nor|ne|pas|jamais|nunca|nada|nicht|kein|keine|nahi|nahin|nhi|mat|na)$/;
const CLAUSE_BREAK = /[.!?;:,\n]/;
/** Words, numbers, Devanagari words (with their vowel signs) and single emoji. */
const TOKEN = /[\p{L}\p{N}][\p{L}\p{M}\p{N}']*|\p{Extended_Pictographic}/gu;

const CUE_SCALARS: Partial<Record<CueId, string>> = {
  shouting: 'shouting',
  emphasis: 'shouting',
  exclamation: 'exclamation',
  profanity: 'profanity',
  anger_words: 'anger',
  angry_emoji: 'angry_emoji',
};

const STRETCHED = /(\p{L})\1\1/u;
const ANY_EMOJI = /\p{Extended_Pictographic}/gu;
const INTERROBANG = /[!?]*(?:\?!|!\?)[!?]*/;
/** A char piece's value: several pieces stand for one word, so each counts for less than a whole word. */
const CHAR_VALUE = 0.5;

export function extractFeatures(
  content: string,
  cues: CueAnalysis,
  lexicon?: LexiconOutputs,
  options: FeatureOptions = {},
): FeatureVector {
  const values = new Map<string, number>();
  const spans = new Map<string, Span>();
  const put = (name: string, value: number, span?: Span) => {
    values.set(name, (values.get(name) ?? 0) + value);
    if (span && !spans.has(name)) spans.set(name, span);
  };

  const n = normaliseWithOffsets(content.slice(0, 20_000));
  const toks: { t: string; start: number; end: number; breakBefore: boolean; negator: boolean }[] = [];
  let last = 0;
  let m: RegExpExecArray | null;
  TOKEN.lastIndex = 0;
  while ((m = TOKEN.exec(n.norm)) !== null) {
    const t = m[0].replace(/'/g, '');
    const breakBefore = CLAUSE_BREAK.test(n.norm.slice(last, m.index));
    last = m.index + m[0].length;
    const start = n.from[m.index]!;
    const end = n.to[m.index + m[0].length - 1]!;
    if (t) toks.push({ t, start, end, breakBefore, negator: NEGATOR.test(t) || /n't$/.test(m[0]) });
  }
  const seen = new Set<string>();
  const once = (name: string, span: Span) => {
    if (seen.has(name)) return;
    seen.add(name);
    put(name, 1, span);
  };
  let negatedFor = 0;
  const negatedRanges: Span[] = [];
  toks.forEach((tok, i) => {
    if (tok.breakBefore) negatedFor = 0;
    const span = { start: tok.start, end: tok.end };
    once(`word:${tok.t}`, span);
    if (tok.t.length >= 6 && /^\p{L}+$/u.test(tok.t)) once(`stem:${tok.t.slice(0, 5)}`, span);
    const prev = toks[i - 1];
    if (prev && !tok.breakBefore) once(`phrase:${prev.t} ${tok.t}`, { start: prev.start, end: tok.end });
    if (negatedFor > 0) {
      once(`negated:${tok.t}`, span);
      negatedRanges.push(span);
      negatedFor--;
    }
    if (tok.negator) negatedFor = 3;
    if (options.chars && tok.t.length >= 3 && /^\p{L}+$/u.test(tok.t)) {
      const padded = `<${tok.t}>`;
      for (const n of [3, 4]) {
        for (let k = 0; k + n <= padded.length; k++) {
          const name = `char:${padded.slice(k, k + n)}`;
          if (seen.has(name)) continue;
          seen.add(name);
          put(name, CHAR_VALUE, span);
        }
      }
    }
  });

  const spanOf = new Map(cues.spans.map((s) => [s.cue, { start: s.start, end: s.end }]));
  for (const cue of cues.cues) put(`cue:${cue}`, 1, spanOf.get(cue));
  if (options.negation) {
    // the cue detector already drops threats it sees negated; this catches the ones it kept but a negator precedes
    for (const sp of cues.spans)
      if (
        (cues.threats as string[]).includes(sp.cue) &&
        negatedRanges.some((r) => sp.start >= r.start && sp.start < r.end)
      )
        put(`negcue:${sp.cue}`, 1, { start: sp.start, end: sp.end });
  }
  const scalarSpan = (name: string) => {
    for (const [cue, scalar] of Object.entries(CUE_SCALARS)) {
      if (scalar === name && spanOf.has(cue as CueId)) return spanOf.get(cue as CueId);
    }
    return undefined;
  };
  const scalar = (name: string, v: number) => {
    if (v > 0) put(name, Math.min(1, v), scalarSpan(name));
  };
  scalar('shouting', cues.wordCount ? cues.capsRatio * Math.min(1, cues.capsWords / 3) : 0);
  scalar('exclamation', cues.maxBangRun >= 2 ? Math.min(1, (cues.maxBangRun - 1) / 3) : 0);
  scalar('profanity', (cues.profanityStrong + 0.5 * cues.profanityMild) / 2);
  scalar('anger', cues.angerWords / 3);
  scalar('angry_emoji', cues.angryEmoji / 2);

  if (options.intensity) {
    const text = content.slice(0, 20_000);
    if (cues.wordCount >= 2) scalar('tone:caps', cues.capsRatio);
    scalar('tone:bangs', cues.bangs / 5);
    if (INTERROBANG.test(text)) put('tone:interrobang', 1);
    const stretched = STRETCHED.exec(text);
    if (stretched) put('tone:stretched', 1, { start: stretched.index, end: stretched.index + 3 });
    scalar('tone:emoji', (text.match(ANY_EMOJI)?.length ?? 0) / 3);
    if (cues.praise) put('tone:praise', 1);
    if (cues.wordCount <= 4) put('tone:short', 1);
    if (cues.wordCount >= 60) put('tone:long', 1);
  }

  if (lexicon) {
    put('lexicon:escalation', Math.min(1.5, lexicon.escalation_points / 5));
    put('lexicon:intensity', Math.min(1.5, lexicon.intensity_points / 4));
    put('lexicon:negativity', Math.max(0, -lexicon.library_sentiment));
  }
  return { values, spans };
}
