/**
 * Escalation Shield scoring: text → escalation_level, emotional_intensity_level, sentiment,
 * sentiment_shift and the list of cues that fired. Pure and deterministic, no I/O.
 *
 * Two point scores are computed and cut into five levels by fixed thresholds:
 *
 *   intensity  = how upset the writer is (negative emotion only; delighted shouting is not "intense")
 *              = sentiment negativity + anger words + profanity + SHOUTING/emphasis + "!!!" + angry emoji
 *                + accusations ("scam", "thieves")
 *   escalation = how likely this turns into churn, a dispute, a regulator, a lawyer or a public post
 *              = explicit threats (legal weighs most; each further distinct threat adds)
 *              + softer signals (repeated contact, manager request, ultimatum, churn talk, accusation)
 *              + "something is wrong" (problem words, negative sentiment) + a share of the intensity
 *
 * Weights and thresholds live in DEFAULT_WEIGHTS; they were tuned by hand against data/shield-train.jsonl
 * (see docs/shield-scoring.md). `createScorer` lets the evaluation swap the sentiment library.
 */
import { detectCues, type CueAnalysis, type SoftCue, type ThreatCue } from './cues.js';
import { extractFeatures, type FeatureOptions, type FeatureVector } from './features.js';
import {
  explain,
  levelIndex,
  loadModel,
  predictLogits,
  type Sensitivity,
  type ShieldModel,
  type Signal,
} from './model.js';
import { DEFAULT_SENTIMENT_LIBRARY, sentimentFor, type SentimentFn, type SentimentLibrary } from './sentiment.js';

export type Level = 'none' | 'low' | 'medium' | 'high' | 'extreme';
export const SHIELD_LEVELS: readonly Level[] = Object.freeze(['none', 'low', 'medium', 'high', 'extreme'] as const);

export function levelRank(l: Level): number {
  const i = SHIELD_LEVELS.indexOf(l);
  if (i < 0) throw new RangeError(`unknown level: ${String(l)}`);
  return i;
}

export function isLevel(x: unknown): x is Level {
  return typeof x === 'string' && (SHIELD_LEVELS as readonly string[]).includes(x);
}

export type SentimentShift = 'sentiment degraded' | 'sentiment improved' | 'no change';

export interface ScoreInput {
  content: string;
  /** Earlier records of the same thread, oldest first. */
  history?: { sentiment: number }[];
}

export interface ScoreResult {
  escalation_level: Level;
  emotional_intensity_level: Level;
  /** Sentiment of the content in [-1, 1] (the chosen library, normalised). */
  sentiment: number;
  /** Absent when there is no history. */
  sentiment_shift?: SentimentShift;
  cues: string[];
  /** What drove the escalation level: the strongest features, each with its matched span and weight. */
  signals: Signal[];
  /**
   * The model's escalation logits at its four cuts (≥ low, ≥ medium, ≥ high, extreme). An automation's sensitivity
   * shifts the point each is compared with, so levels can be recomputed per automation without scoring again.
   */
  escalation_logits: number[];
}

/** ScoreResult plus the raw points, for the evaluation and for debugging. */
export interface DetailedScore extends ScoreResult {
  /** The sentiment library's score (after the non-English and sarcasm corrections), before cue blending. */
  library_sentiment: number;
  escalation_points: number;
  intensity_points: number;
}

export interface Weights {
  /** Multiplier on negativity (max(0, -sentiment)) in intensity and escalation. */
  sentiment: number;
  /** The lexicons are English: for text with more foreign than English function words, sentiment is
   * scaled by nonEnglishFactor and anger words (which have es/fr/de/hi entries) weigh nonEnglishAnger times more. */
  nonEnglishFactor: number;
  nonEnglishAnger: number;
  /** Sarcastic praise ("Oh great, another update") turns the sentiment to at least this negative value. */
  sarcasmSentiment: number;
  intensity: {
    negativity: number;
    angerWord: number;
    angerWordMax: number;
    profanityStrong: number;
    profanityMild: number;
    profanityMax: number;
    shouting: number;
    emphasis: number;
    bang1: number;
    bang2: number;
    bang3: number;
    angryEmoji: number;
    angryEmojiMax: number;
    accusation: number;
    problem: number;
    /** Arousal carried by an explicit threat (legal separately), each further threat, each soft signal. */
    threat: number;
    legal: number;
    extraThreat: number;
    soft: number;
    softMax: number;
    /** Cap on threat + soft + problem arousal. */
    arousalMax: number;
    /** Subtracted for a formal / polite register. */
    polite: number;
    /** Multiplier applied to caps / "!" / profanity when the message is clearly positive. */
    positiveDamp: number;
    /** Cut points for low, medium, high, extreme. */
    thresholds: [number, number, number, number];
  };
  escalation: {
    threat: Record<ThreatCue, number>;
    /** Added for each distinct explicit threat beyond the strongest one. */
    extraThreat: number;
    soft: Record<SoftCue, number>;
    softMax: number;
    /** Share of the soft points kept when an explicit threat is present. */
    softWithThreat: number;
    /** Share of the soft points kept in a clearly positive message ("writing again to say thanks"). */
    softWhenPositive: number;
    /** Without an explicit threat, escalation points are capped here (below the "high" threshold). */
    noThreatMax: number;
    problem: number;
    negativity: number;
    complaintMax: number;
    /** Points added for intensity level none … extreme. */
    byIntensity: [number, number, number, number, number];
    thresholds: [number, number, number, number];
  };
  shift: {
    /** Number of most recent history records averaged as the baseline. */
    window: number;
    /** |current − baseline| below this is "no change". */
    deadBand: number;
    /** How far (at most) cue negativity pulls the reported sentiment below the library's score. */
    cueBlend: number;
  };
}

export const DEFAULT_WEIGHTS: Weights = {
  sentiment: 0.75,
  nonEnglishFactor: 0.25,
  nonEnglishAnger: 1.5,
  sarcasmSentiment: -0.4,
  intensity: {
    negativity: 2.2,
    angerWord: 0.7,
    angerWordMax: 2,
    profanityStrong: 1.3,
    profanityMild: 0.6,
    profanityMax: 2,
    shouting: 2.4,
    emphasis: 0.9,
    bang1: 0.2,
    bang2: 0.5,
    bang3: 1.0,
    angryEmoji: 0.8,
    angryEmojiMax: 2,
    accusation: 0.6,
    problem: 0.5,
    threat: 1.3,
    legal: 1.9,
    extraThreat: 0.6,
    soft: 0.9,
    softMax: 1.0,
    arousalMax: 2.0,
    polite: 0.7,
    positiveDamp: 0.1,
    thresholds: [0.45, 0.8, 2.2, 3.8],
  },
  escalation: {
    threat: { legal_threat: 5, regulator: 3, chargeback: 3, churn_threat: 3, public_shaming: 3 },
    extraThreat: 2,
    soft: { churn_risk: 1.6, repeated_contact: 1.6, manager_request: 1.6, ultimatum: 1.3, accusation: 1.3 },
    softMax: 1.9,
    softWithThreat: 0.3,
    softWhenPositive: 0.3,
    noThreatMax: 2.9,
    problem: 0.8,
    negativity: 1.8,
    complaintMax: 1.1,
    byIntensity: [0, 0.1, 0.4, 0.8, 2.0],
    thresholds: [0.6, 1.6, 3.0, 5.0],
  },
  shift: { window: 3, deadBand: 0.2, cueBlend: 0.6 },
};

export interface ScorerOptions {
  /** A library id or any SentimentFn; default: DEFAULT_SENTIMENT_LIBRARY. */
  sentiment?: SentimentLibrary | SentimentFn;
  weights?: Weights;
  /** Cue detector; default detectCues. The evaluation passes a memoised one (cues do not depend on weights). */
  detect?: (text: string) => CueAnalysis;
}

function toLevel(points: number, t: readonly [number, number, number, number]): Level {
  if (!(points >= t[0])) return 'none';
  if (points < t[1]) return 'low';
  if (points < t[2]) return 'medium';
  if (points < t[3]) return 'high';
  return 'extreme';
}

const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

function finiteSentiments(history: ScoreInput['history']): number[] {
  if (!Array.isArray(history)) return [];
  const out: number[] = [];
  for (const h of history) {
    const s = h && typeof h === 'object' ? h.sentiment : undefined;
    if (typeof s === 'number' && Number.isFinite(s)) out.push(Math.max(-1, Math.min(1, s)));
  }
  return out;
}

/**
 * Compares `current` with the mean of the last `window` sentiments of the thread.
 * Returns undefined when there is no usable history.
 */
export function sentimentShift(
  current: number,
  history: ScoreInput['history'],
  opts: Weights['shift'] = DEFAULT_WEIGHTS.shift,
): SentimentShift | undefined {
  const hs = finiteSentiments(history);
  if (hs.length === 0) return undefined;
  const recent = hs.slice(-Math.max(1, opts.window));
  const baseline = recent.reduce((a, b) => a + b, 0) / recent.length;
  const delta = current - baseline;
  if (delta <= -opts.deadBand) return 'sentiment degraded';
  if (delta >= opts.deadBand) return 'sentiment improved';
  return 'no change';
}

function intensityPoints(c: CueAnalysis, sentiment: number, w: Weights): number {
  const wi = w.intensity;
  const neg = Math.max(0, -sentiment) * w.sentiment;
  const accusation = c.soft.includes('accusation');
  const positive =
    ((sentiment > 0.25 && c.praise) || sentiment > 0.5) && c.angerWords === 0 && c.threats.length === 0 && !accusation;
  const damp = positive ? wi.positiveDamp : 1;

  let emotive = 0;
  emotive += Math.min(wi.profanityMax, c.profanityStrong * wi.profanityStrong + c.profanityMild * wi.profanityMild);
  if (c.cues.includes('shouting')) emotive += wi.shouting;
  else if (c.cues.includes('emphasis')) emotive += wi.emphasis;
  if (c.maxBangRun >= 3) emotive += wi.bang3;
  else if (c.maxBangRun === 2) emotive += wi.bang2;
  else if (c.bangs > 0 && (neg > 0.2 || c.angerWords > 0)) emotive += wi.bang1;

  let p = neg * wi.negativity + emotive * damp;
  const anger = c.nonEnglish ? wi.angerWord * w.nonEnglishAnger : wi.angerWord;
  p += Math.min(wi.angerWordMax, c.angerWords * anger);
  p += Math.min(wi.angryEmojiMax, c.angryEmoji * wi.angryEmoji);
  if (accusation) p += wi.accusation;
  // Arousal carried by what is said (threats, chasing, a problem), capped so that stacking cues alone
  // cannot reach "extreme": that takes emotional language (anger, profanity, shouting, "!!!").
  let arousal = 0;
  if (c.threats.length > 0) {
    arousal += (c.threats.includes('legal_threat') ? wi.legal : wi.threat) + wi.extraThreat * (c.threats.length - 1);
  }
  const softOther = c.soft.filter((x) => x !== 'accusation').length;
  arousal += Math.min(wi.softMax, softOther * wi.soft);
  if (c.problemReport && !positive) arousal += wi.problem;
  p += Math.min(wi.arousalMax, arousal);
  if (c.polite) p -= wi.polite;
  return Math.max(0, p);
}

function escalationPoints(c: CueAnalysis, sentiment: number, intensity: Level, w: Weights): number {
  const we = w.escalation;
  const neg = Math.max(0, -sentiment) * w.sentiment;
  const clearlyPositive = sentiment > 0.5 && c.praise && c.angerWords === 0;
  let soft = Math.min(
    we.softMax,
    c.soft.reduce((a, s) => a + we.soft[s], 0),
  );
  if (clearlyPositive) soft *= we.softWhenPositive;
  const byIntensity = we.byIntensity[levelRank(intensity)]!;
  if (c.threats.length > 0) {
    const ws = c.threats.map((t) => we.threat[t]).sort((a, b) => b - a);
    return ws[0]! + we.extraThreat * (ws.length - 1) + soft * we.softWithThreat + byIntensity;
  }
  const problem = c.problemReport && !clearlyPositive ? we.problem : 0;
  // Rage (intensity extreme) with no threat still counts as high: such writers act without announcing it.
  const cap = intensity === 'extreme' && !clearlyPositive ? we.thresholds[2] : we.noThreatMax;
  return Math.min(cap, soft + Math.min(we.complaintMax, problem + neg * we.negativity) + byIntensity);
}

/**
 * Corrections the lexicon libraries cannot make themselves: non-English text (an English lexicon
 * reads German "die" as negative) is scaled down, and sarcastic praise is turned negative.
 */
function adjustSentiment(s: number, c: CueAnalysis, w: Weights): number {
  let out = s;
  if (c.nonEnglish) out *= w.nonEnglishFactor;
  if (c.sarcasm) out = Math.min(out, w.sarcasmSentiment, -Math.abs(out) * 0.8);
  return Math.max(-1, Math.min(1, out));
}

export function createScorer(opts: ScorerOptions = {}): (input: ScoreInput) => DetailedScore {
  const sentimentFn: SentimentFn =
    typeof opts.sentiment === 'function' ? opts.sentiment : sentimentFor(opts.sentiment ?? DEFAULT_SENTIMENT_LIBRARY);
  const w = opts.weights ?? DEFAULT_WEIGHTS;
  const detect = opts.detect ?? detectCues;
  return (input) => {
    const content = input && typeof input.content === 'string' ? input.content : '';
    let s = sentimentFn(content);
    if (!Number.isFinite(s)) s = 0;
    s = Math.max(-1, Math.min(1, s));
    const cues = detect(content);
    s = adjustSentiment(s, cues, w);
    const ip = intensityPoints(cues, s, w);
    const intensity = toLevel(ip, w.intensity.thresholds);
    const ep = escalationPoints(cues, s, intensity, w);
    // Reported sentiment: the library's polarity, pulled down by what the cues show and lexicons miss
    // (threats, repeated contact, anger words, profanity, problem reports). Used for sentiment_shift.
    const cueNegativity = Math.max(0, ip - Math.max(0, -s) * w.sentiment * w.intensity.negativity);
    const blended = Math.max(-1, Math.min(1, s - w.shift.cueBlend * Math.tanh(cueNegativity / 3)));
    const result: DetailedScore = {
      escalation_level: toLevel(ep, w.escalation.thresholds),
      emotional_intensity_level: intensity,
      sentiment: round(blended),
      cues: [...cues.cues],
      signals: lexiconSignals(cues, content, w),
      escalation_logits: [],
      library_sentiment: round(s),
      escalation_points: round(ep),
      intensity_points: round(ip),
    };
    const shift = sentimentShift(result.sentiment, input?.history, w.shift);
    if (shift !== undefined) result.sentiment_shift = shift;
    return result;
  };
}

/** The lexicon scorer's explanation: each threat or soft cue with its match and its escalation points. */
function lexiconSignals(c: CueAnalysis, content: string, w: Weights): Signal[] {
  return c.spans.map((sp) => {
    const points =
      (w.escalation.threat as Record<string, number>)[sp.cue] ?? (w.escalation.soft as Record<string, number>)[sp.cue];
    return {
      signal: `cue:${sp.cue}`,
      span: { start: sp.start, end: sp.end, text: content.slice(sp.start, sp.end) },
      weight: points ?? 0,
    };
  });
}

/** Features of one text for the trained model; `combined` adds the lexicon scorer's outputs. */
export function featuresOf(
  content: string,
  combined: boolean,
  lexicon: (input: ScoreInput) => DetailedScore = lexiconScorer,
  cues: CueAnalysis = detectCues(content),
  options: FeatureOptions = {},
): FeatureVector {
  return extractFeatures(content, cues, combined ? lexicon({ content }) : undefined, options);
}

/**
 * The shipped scorer: the trained model decides the levels and the explanation; sentiment and sentiment_shift come
 * from the lexicon scorer (the model was not trained for them).
 */
function createModelScorer(model: ShieldModel): (input: ScoreInput) => DetailedScore {
  const combined = model.approach === 'combined';
  // cues are detected once per text and shared with the lexicon scorer
  let last: { content: string; cues: CueAnalysis } | null = null;
  const lexicon = createScorer({ detect: (t) => (last?.content === t ? last.cues : detectCues(t)) });
  return (input) => {
    const content = input && typeof input.content === 'string' ? input.content : '';
    const cues = detectCues(content);
    last = { content, cues };
    const lex = lexicon(input);
    const fv = extractFeatures(content, cues, combined ? lex : undefined, model.features);
    const logits = predictLogits(model, fv);
    const esc = levelIndex(logits.escalation);
    return {
      ...lex,
      escalation_level: SHIELD_LEVELS[esc]!,
      emotional_intensity_level: SHIELD_LEVELS[levelIndex(logits.intensity)]!,
      // the cut that decides whether this alerts at "high": the one that matters most to a reader
      signals: explain(model, fv, content, 2),
      escalation_logits: logits.escalation.map((x) => round(x, 3)),
    };
  };
}

const lexiconScorer = createScorer();
let shipped: ((input: ScoreInput) => DetailedScore) | null = null;
/** The shipped model, read on first use (the training script imports this module before the file exists). */
const defaultScorer = (input: ScoreInput) => (shipped ??= createModelScorer(model()))(input);

/** Scores one feedback record with the default library and weights. */
export function scoreFeedback(input: ScoreInput): ScoreResult {
  const { escalation_points: _e, intensity_points: _i, library_sentiment: _l, ...result } = defaultScorer(input);
  return result;
}

/** Like scoreFeedback, with the raw points. */
export function scoreFeedbackDetailed(input: ScoreInput): DetailedScore {
  return defaultScorer(input);
}

let shippedModel: ShieldModel | null = null;
const model = () => (shippedModel ??= loadModel());

/** What each sensitivity means for the shipped model: its offset and expected precision/recall at ≥ high. */
export function sensitivityCalibration(): ShieldModel['sensitivity'] {
  return model().sensitivity;
}

/**
 * The escalation level a record has for an automation of the given sensitivity: its logits compared with the
 * sensitivity's offset. Records scored without logits keep their stored level.
 */
export function escalationAtSensitivity(level: Level, logits: readonly number[] | null, s: Sensitivity): Level {
  if (!logits || logits.length !== 4 || s === 'balanced') return level;
  return SHIELD_LEVELS[levelIndex(logits, model().sensitivity[s].offset)]!;
}
