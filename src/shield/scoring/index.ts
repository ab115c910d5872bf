export {
  LEVELS,
  levelRank,
  isLevel,
  scoreFeedback,
  scoreFeedbackDetailed,
  createScorer,
  sentimentShift,
  DEFAULT_WEIGHTS,
  type Level,
  type ScoreInput,
  type ScoreResult,
  type DetailedScore,
  type SentimentShift,
  type ScorerOptions,
  type Weights,
} from './score.js';
export { detectCues, CUE_ORDER, THREAT_CUES, SOFT_CUES, type CueId, type CueAnalysis } from './cues.js';
export {
  sentiment,
  sentimentFor,
  DEFAULT_SENTIMENT_LIBRARY,
  SENTIMENT_LIBRARIES,
  SENTIMENT_PACKAGES,
  type SentimentLibrary,
  type SentimentFn,
} from './sentiment.js';
