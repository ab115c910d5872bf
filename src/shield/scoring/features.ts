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

export function extractFeatures(content: string, cues: CueAnalysis, lexicon?: LexiconOutputs): FeatureVector {
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
  toks.forEach((tok, i) => {
    if (tok.breakBefore) negatedFor = 0;
    const span = { start: tok.start, end: tok.end };
    once(`word:${tok.t}`, span);
    if (tok.t.length >= 6 && /^\p{L}+$/u.test(tok.t)) once(`stem:${tok.t.slice(0, 5)}`, span);
    const prev = toks[i - 1];
    if (prev && !tok.breakBefore) once(`phrase:${prev.t} ${tok.t}`, { start: prev.start, end: tok.end });
    if (negatedFor > 0) {
      once(`negated:${tok.t}`, span);
      negatedFor--;
    }
    if (tok.negator) negatedFor = 3;
  });

  const spanOf = new Map(cues.spans.map((s) => [s.cue, { start: s.start, end: s.end }]));
  for (const cue of cues.cues) put(`cue:${cue}`, 1, spanOf.get(cue));
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

  if (lexicon) {
    put('lexicon:escalation', Math.min(1.5, lexicon.escalation_points / 5));
    put('lexicon:intensity', Math.min(1.5, lexicon.intensity_points / 4));
    put('lexicon:negativity', Math.max(0, -lexicon.library_sentiment));
  }
  return { values, spans };
}
