/**
 * Sentiment back-ends for Escalation Shield, each normalised to [-1, 1].
 *
 * Three maintained lexicon-based libraries are wrapped so that `npm run eval:shield` can compare them
 * on the labelled set with the rest of the scorer unchanged:
 *   - vader-sentiment : VADER (Hutto & Gilbert 2014); `compound` is already in [-1, 1]. Handles
 *                       negation, "but", intensifiers, ALL CAPS and "!" itself.
 *   - wink-sentiment  : AFINN-165 + emoji + emoticons + hashtags, with negation.
 *   - sentiment       : AFINN-165 (the "sentiment" npm package), with negation.
 * For wink and AFINN the raw summed score is squashed with VADER's normalisation x / sqrt(x² + 15),
 * so that all three live on the same scale and saturate similarly for long texts.
 *
 * None of these packages ships TypeScript types, so they are loaded through createRequire and given
 * minimal local types.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface VaderModule {
  SentimentIntensityAnalyzer: {
    polarity_scores(text: string): { compound: number; neg: number; neu: number; pos: number };
  };
}
type WinkFn = (text: string) => { score: number; normalizedScore: number };
interface AfinnAnalyzer {
  analyze(text: string): { score: number; comparative: number };
}

export type SentimentLibrary = 'vader' | 'wink' | 'afinn';
export const SENTIMENT_LIBRARIES: readonly SentimentLibrary[] = ['vader', 'wink', 'afinn'];
/** npm package behind each library id. */
export const SENTIMENT_PACKAGES: Record<SentimentLibrary, string> = {
  vader: 'vader-sentiment',
  wink: 'wink-sentiment',
  afinn: 'sentiment',
};
/** A sentiment function: text → score in [-1, 1]. Must be pure. */
export type SentimentFn = (text: string) => number;

/** Text longer than this is truncated before sentiment analysis (VADER is ~0.5 µs/char). */
const MAX_SENTIMENT_CHARS = 20_000;

let vader: VaderModule | undefined;
let wink: WinkFn | undefined;
let afinn: AfinnAnalyzer | undefined;

function squash(x: number, alpha = 15): number {
  if (!Number.isFinite(x) || x === 0) return 0;
  return x / Math.sqrt(x * x + alpha);
}

function clamp(x: number): number {
  if (!Number.isFinite(x)) return 0;
  return Math.max(-1, Math.min(1, x));
}

function prepare(text: string): string {
  return typeof text === 'string' ? text.slice(0, MAX_SENTIMENT_CHARS) : '';
}

const vaderSentiment: SentimentFn = (text) => {
  const t = prepare(text);
  if (!t.trim()) return 0;
  vader ??= require('vader-sentiment') as VaderModule;
  return clamp(vader.SentimentIntensityAnalyzer.polarity_scores(t).compound);
};

const winkSentiment: SentimentFn = (text) => {
  const t = prepare(text);
  if (!t.trim()) return 0;
  wink ??= require('wink-sentiment') as WinkFn;
  return clamp(squash(wink(t).score));
};

const afinnSentiment: SentimentFn = (text) => {
  const t = prepare(text);
  if (!t.trim()) return 0;
  if (!afinn) {
    const Ctor = require('sentiment') as new () => AfinnAnalyzer;
    afinn = new Ctor();
  }
  return clamp(squash(afinn.analyze(t).score));
};

/** Always 0: lets the evaluation measure what the cues alone achieve. */
export const noSentiment: SentimentFn = () => 0;

const BY_NAME: Record<SentimentLibrary, SentimentFn> = {
  vader: vaderSentiment,
  wink: winkSentiment,
  afinn: afinnSentiment,
};

export function sentimentFor(lib: SentimentLibrary): SentimentFn {
  return BY_NAME[lib];
}

/**
 * The library used in production. Chosen by measured accuracy on the labelled set (data/shield-train.jsonl)
 * (see docs/shield-scoring.md and `npm run eval:shield`).
 */
export const DEFAULT_SENTIMENT_LIBRARY: SentimentLibrary = 'vader';

/** Sentiment of `text` in [-1, 1] with the default library. */
export function sentiment(text: string): number {
  return sentimentFor(DEFAULT_SENTIMENT_LIBRARY)(text);
}
