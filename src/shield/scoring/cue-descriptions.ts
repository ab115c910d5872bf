import { EMOTION_CUES, SOFT_CUES, THREAT_CUES, type CueId } from './cues.js';

/**
 * What each cue means, for people: the feedback API and the dashboard's record page show the cues that fired with
 * these words, grouped as the scorer weighs them (an explicit threat weighs most, softer signals less, emotion drives
 * the intensity level).
 */
export type CueGroup = 'threat' | 'soft' | 'emotion' | 'other';

export interface CueDescription {
  label: string;
  description: string;
}

export const CUE_DESCRIPTIONS: Readonly<Record<CueId, CueDescription>> = {
  legal_threat: { label: 'Legal threat', description: 'Mentions a lawyer, suing, small claims or a legal notice.' },
  regulator: { label: 'Regulator', description: 'Threatens to report to a regulator or consumer body.' },
  chargeback: {
    label: 'Chargeback',
    description: 'Threatens to dispute or reverse the payment with the bank or card.',
  },
  churn_threat: { label: 'Churn threat', description: 'Says they will cancel, leave or switch to another provider.' },
  public_shaming: {
    label: 'Public shaming',
    description: 'Threatens to post publicly: social media, a 1-star review, the press.',
  },
  churn_risk: { label: 'Churn risk', description: 'Thinking about leaving, without a firm threat.' },
  repeated_contact: {
    label: 'Repeated contact',
    description: 'Has written before and is still waiting ("third time", "still no answer").',
  },
  manager_request: { label: 'Manager request', description: 'Asks for a manager or a supervisor.' },
  ultimatum: { label: 'Ultimatum', description: 'Sets a deadline or a last chance ("by Friday", "unless").' },
  accusation: { label: 'Accusation', description: 'Calls the company a scam, thieves or a rip-off.' },
  profanity: { label: 'Profanity', description: 'Swears, including disguised spellings.' },
  shouting: { label: 'Shouting', description: 'Writes most words in capitals.' },
  emphasis: { label: 'Emphasis', description: 'One or two words in capitals.' },
  exclamation: { label: 'Exclamation', description: 'Runs of exclamation marks.' },
  anger_words: { label: 'Anger words', description: 'Words of anger or outrage ("furious", "unacceptable").' },
  angry_emoji: { label: 'Angry emoji', description: 'Angry or upset emoji.' },
  problem_report: { label: 'Problem report', description: 'Reports that something went wrong.' },
  sarcasm: { label: 'Sarcasm', description: 'Praise used ironically, so the sentiment was turned negative.' },
  polite_register: { label: 'Polite register', description: 'Formal, polite wording, which lowers the intensity.' },
};

function cueGroup(cue: string): CueGroup {
  if ((THREAT_CUES as readonly string[]).includes(cue)) return 'threat';
  if ((SOFT_CUES as readonly string[]).includes(cue)) return 'soft';
  if ((EMOTION_CUES as readonly string[]).includes(cue)) return 'emotion';
  return 'other';
}

/** One fired cue as the API shows it; a stored id this code no longer knows keeps its id as the label. */
export function describeCue(cue: string): { cue: string; group: CueGroup } & CueDescription {
  const known = (CUE_DESCRIPTIONS as Readonly<Record<string, CueDescription>>)[cue];
  if (cue === 'scoring_failed') {
    return {
      cue,
      group: 'other',
      label: 'Scoring failed',
      description: 'The scorer could not read this record, so it has no levels.',
    };
  }
  return { cue, group: cueGroup(cue), ...(known ?? { label: cue.replace(/_/g, ' '), description: '' }) };
}
