import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  SHIELD_LEVELS,
  isLevel,
  levelRank,
  scoreFeedback,
  scoreFeedbackDetailed,
  createScorer,
  sentimentShift,
  type Level,
  type ScoreResult,
} from '../../src/shield/scoring/score.js';
import { detectCues } from '../../src/shield/scoring/cues.js';
import { SENTIMENT_LIBRARIES, sentiment, sentimentFor } from '../../src/shield/scoring/sentiment.js';

const esc = (content: string) => scoreFeedback({ content }).escalation_level;
const int = (content: string) => scoreFeedback({ content }).emotional_intensity_level;
const cues = (content: string) => detectCues(content).cues;
const rank = (l: Level) => levelRank(l);

function expectValid(r: ScoreResult) {
  expect(isLevel(r.escalation_level)).toBe(true);
  expect(isLevel(r.emotional_intensity_level)).toBe(true);
  expect(Number.isFinite(r.sentiment)).toBe(true);
  expect(r.sentiment).toBeGreaterThanOrEqual(-1);
  expect(r.sentiment).toBeLessThanOrEqual(1);
  expect(Array.isArray(r.cues)).toBe(true);
}

describe('levels', () => {
  it('are ordered none → extreme and ranked 0 … 4', () => {
    expect(SHIELD_LEVELS).toEqual(['none', 'low', 'medium', 'high', 'extreme']);
    expect(SHIELD_LEVELS.map(levelRank)).toEqual([0, 1, 2, 3, 4]);
    expect(isLevel('medium')).toBe(true);
    expect(isLevel('severe')).toBe(false);
    expect(() => levelRank('severe' as Level)).toThrow(RangeError);
  });
});

describe('cue detectors', () => {
  it.each([
    ['legal_threat', 'I have instructed my lawyer to take legal action.'],
    ['legal_threat', "I'll see you in small claims court."],
    ['legal_threat', 'Ich werde Sie verklagen.'],
    ['churn_threat', 'Please cancel my subscription today.'],
    ['churn_threat', "I'm switching to a competitor next month."],
    ['churn_threat', 'Never ordering from you again.'],
    ['chargeback', "I'm filing a chargeback with my card company."],
    ['chargeback', 'I will dispute the charge with my bank.'],
    ['regulator', "I'm reporting you to the CFPB."],
    ['regulator', 'I will complain to the consumer forum.'],
    ['regulator', 'Filing a complaint with the Financial Ombudsman.'],
    ['public_shaming', "I'll be posting this on Twitter for everyone to see."],
    ['public_shaming', 'Leaving a 1-star review on Trustpilot.'],
    ['public_shaming', "I'm going to the local news with this."],
    ['repeated_contact', "This is the third time I'm writing."],
    ['repeated_contact', 'Still no answer from anyone.'],
    ['manager_request', 'I want to speak to a manager.'],
    ['accusation', 'This is a scam.'],
    ['profanity', 'This is fucking ridiculous.'],
    ['profanity', 'What the f*ck is this'],
    ['shouting', 'WHERE IS MY REFUND YOU PEOPLE'],
    ['emphasis', 'I paid ON TIME.'],
    ['exclamation', 'Unbelievable!!!'],
    ['sarcasm', 'Wow, thanks for the "fast" shipping.'],
  ])('detects %s in %j', (cue, text) => {
    expect(cues(text)).toContain(cue);
  });

  it.each([
    ['legal_threat', 'I will not sue anyone, I just want a refund.'],
    ['legal_threat', "I'm not a lawyer, can you explain clause 4?"],
    ['churn_threat', "I don't want to cancel my subscription, just move the date."],
    ['churn_threat', 'Can I cancel my order? I picked the wrong size.'],
    ['churn_threat', 'My order was cancelled without explanation.'],
    ['churn_threat', 'Is it possible to switch to yearly billing?'],
    ['chargeback', 'No chargeback needed, the refund came through.'],
    ['chargeback', 'How do I dispute a charge I do not recognise?'],
    ['regulator', 'The FTC guidelines say sponsorships must be disclosed.'],
    ['public_shaming', 'I saw your ad on Twitter, do you ship to Canada?'],
    ['public_shaming', 'Five stars, I will leave a review on Trustpilot!'],
    ['public_shaming', "I'm not going to leave a bad review, just fix it."],
    ['shouting', 'Reported to the FTC, BBB and CFPB.'],
  ])('does not flag %s in %j', (cue, text) => {
    expect(cues(text)).not.toContain(cue);
  });

  it('keeps a threat that is only grammatically negated ("leaving me no choice")', () => {
    expect(cues("I don't want to involve my lawyer but you're leaving me no choice.")).toContain('legal_threat');
  });

  it('does not let an if-clause negate the threat after it', () => {
    expect(cues("If this isn't fixed by Friday I'm cancelling my account.")).toContain('churn_threat');
    expect(cues('Not only am I cancelling, I am also reporting this to the FTC.')).toEqual(
      expect.arrayContaining(['churn_threat', 'regulator']),
    );
  });

  it('measures shouting and exclamation runs', () => {
    const c = detectCues('THIS IS UNACCEPTABLE!!!!');
    expect(c.capsRatio).toBe(1);
    expect(c.maxBangRun).toBe(4);
    expect(detectCues('this is fine.').capsWords).toBe(0);
  });

  it('recognises text in other languages', () => {
    expect(detectCues('Voy a cancelar mi suscripción.').cues).toContain('churn_threat');
    expect(detectCues('Je vais contacter mon avocat.').cues).toContain('legal_threat');
    expect(detectCues('Teesri baar complaint kar raha hoon.').cues).toContain('repeated_contact');
    expect(detectCues('Vielen Dank für die schnelle Antwort!').nonEnglish).toBe(true);
    expect(detectCues('Thanks for the quick answer!').nonEnglish).toBe(false);
  });
});

describe('scoreFeedback levels', () => {
  it('orders a typical ladder of messages sensibly', () => {
    const ladder = [
      'Thanks, the parcel arrived and everything works great!',
      'My package arrived a day late, could you check what happened?',
      "This is the third time I'm writing about this billing error. Please escalate it.",
      "If this isn't fixed by Friday I'm cancelling my subscription.",
      'THIRD TIME NO ANSWER!!! My lawyer is filing a lawsuit and I am disputing the charge with my bank!!!',
    ];
    const e = ladder.map((t) => rank(esc(t)));
    expect(e).toEqual([...e].sort((a, b) => a - b));
    expect(esc(ladder[0]!)).toBe('none');
    expect(esc(ladder[1]!)).toBe('low');
    expect(esc(ladder[2]!)).toBe('medium');
    expect(esc(ladder[3]!)).toBe('high');
    expect(esc(ladder[4]!)).toBe('extreme');
  });

  it('treats a legal threat or several explicit threats as extreme', () => {
    expect(esc('You will be hearing from my solicitor.')).toBe('extreme');
    expect(esc("I'm cancelling and reporting you to the BBB.")).toBe('extreme');
  });

  it('gives one explicit threat "high", and rage without a threat "high" too', () => {
    expect(esc("I'm going to dispute this charge with my bank.")).toBe('high');
    expect(esc('Please cancel my membership effective immediately.')).toBe('high');
    const rage = scoreFeedback({ content: 'WHAT THE FUCK IS WRONG WITH YOU PEOPLE?!?!' });
    expect(rage.emotional_intensity_level).toBe('extreme');
    expect(rage.escalation_level).toBe('high');
    expect(esc('This is ridiculous. Two weeks and still no refund.')).toBe('medium');
  });

  it('does not escalate negated threats like real ones', () => {
    expect(rank(esc('I will not be suing anyone, I just want the right charger.'))).toBeLessThanOrEqual(rank('low'));
    expect(rank(esc('I will sue you.'))).toBeGreaterThan(rank(esc('I will not sue you.')));
  });

  it('scores praise and neutral questions as none', () => {
    for (const t of [
      'What time does your support line open on Saturdays?',
      'LOVE THE NEW FEATURES!!! BEST APP EVER 😍',
      "I'll be telling all my friends about you, best service I've had in years!",
    ]) {
      expect(esc(t)).toBe('none');
      expect(int(t)).toBe('none');
    }
  });

  it('orders emotional intensity from calm to rage', () => {
    const ladder = [
      'Could you tell me your opening hours?',
      'The jacket zip broke after a week, which is disappointing.',
      'This is ridiculous, absolutely unacceptable service!',
      'ABSOLUTELY DISGUSTING!!! YOU USELESS BASTARDS!!!',
    ];
    const r = ladder.map((t) => rank(int(t)));
    expect(r).toEqual([...r].sort((a, b) => a - b));
    expect(r[0]).toBe(0);
    expect(r[3]).toBe(4);
  });

  it('turns sarcastic praise negative', () => {
    const s = scoreFeedbackDetailed({
      content: 'Oh great, another "update" that breaks everything. Just what I needed.',
    });
    expect(s.cues).toContain('sarcasm');
    expect(s.library_sentiment).toBeLessThan(0);
    expect(rank(s.escalation_level)).toBeGreaterThanOrEqual(rank('low'));
  });

  it('lists cues in the result', () => {
    const r = scoreFeedback({ content: "I'm calling my lawyer and posting this on Twitter!!!" });
    expect(r.cues).toEqual(expect.arrayContaining(['legal_threat', 'public_shaming', 'exclamation']));
  });
});

describe('sentiment_shift', () => {
  it('is absent without history', () => {
    expect(scoreFeedback({ content: 'Where is my parcel?' })).not.toHaveProperty('sentiment_shift');
    expect(scoreFeedback({ content: 'Where is my parcel?', history: [] })).not.toHaveProperty('sentiment_shift');
  });

  it('reports degraded, improved and no change against the thread history', () => {
    const calm = [{ sentiment: 0.1 }, { sentiment: 0.2 }];
    expect(
      scoreFeedback({ content: 'This is a disgrace. I am reporting you to the CFPB and my bank.', history: calm })
        .sentiment_shift,
    ).toBe('sentiment degraded');
    const angry = [{ sentiment: -0.8 }, { sentiment: -0.7 }];
    expect(
      scoreFeedback({ content: 'Thank you so much, it works perfectly now!', history: angry }).sentiment_shift,
    ).toBe('sentiment improved');
    const neutral = [{ sentiment: 0 }];
    expect(scoreFeedback({ content: 'Any news on the firmware release date?', history: neutral }).sentiment_shift).toBe(
      'no change',
    );
  });

  it('uses a dead-band around the mean of the most recent history', () => {
    expect(sentimentShift(0.1, [{ sentiment: 0 }])).toBe('no change');
    expect(sentimentShift(-0.1, [{ sentiment: 0 }])).toBe('no change');
    expect(sentimentShift(-0.5, [{ sentiment: 0 }])).toBe('sentiment degraded');
    expect(sentimentShift(0.5, [{ sentiment: 0 }])).toBe('sentiment improved');
    // only the last 3 records count: an old very negative record does not make today look better
    expect(sentimentShift(0, [{ sentiment: -1 }, { sentiment: 0 }, { sentiment: 0 }, { sentiment: 0 }])).toBe(
      'no change',
    );
    expect(sentimentShift(0, [{ sentiment: -1 }, { sentiment: 0 }])).toBe('sentiment improved');
  });

  it('ignores malformed history entries', () => {
    const history = [{ sentiment: Number.NaN }, { sentiment: Infinity }, null, { sentiment: 'x' }] as unknown as {
      sentiment: number;
    }[];
    expect(sentimentShift(0.5, history)).toBeUndefined();
    expect(scoreFeedback({ content: 'ok', history })).not.toHaveProperty('sentiment_shift');
  });
});

describe('sentiment libraries', () => {
  it.each(SENTIMENT_LIBRARIES)('%s returns a score in [-1, 1] with the right sign', (lib) => {
    const f = sentimentFor(lib);
    expect(f('I love this, it is wonderful and works great')).toBeGreaterThan(0.3);
    expect(f('This is terrible, awful, the worst service ever')).toBeLessThan(-0.3);
    expect(f('')).toBe(0);
    for (const t of ['good '.repeat(5000), 'bad '.repeat(5000)]) {
      const v = f(t);
      expect(v).toBeGreaterThanOrEqual(-1);
      expect(v).toBeLessThanOrEqual(1);
    }
  });

  it('the default wrapper uses the configured library', () => {
    expect(sentiment('great job')).toBe(sentimentFor('vader')('great job'));
  });

  it('createScorer accepts a library id or a custom function', () => {
    const neutral = createScorer({ sentiment: () => 0 });
    expect(neutral({ content: 'whatever' }).library_sentiment).toBe(0);
    const bad = createScorer({ sentiment: () => Number.NaN });
    expectValid(bad({ content: 'whatever' }));
    for (const lib of SENTIMENT_LIBRARIES) expectValid(createScorer({ sentiment: lib })({ content: 'I will sue you' }));
  });
});

describe('robustness', () => {
  it.each([
    ['empty', ''],
    ['whitespace', ' \n\t  '],
    ['emoji only', '😡😡😡'],
    ['combining marks', 'e\u0301e\u0301e\u0301 Ré\u0301silier'],
    ['zero-width and RTL', '\u200b\u200f مرحبا \u202e cancel \u200d'],
    ['lone surrogates', '\ud800 abc \udfff'],
    ['devanagari', 'मैं आपकी कंपनी पर मुकदमा करूंगा'],
    ['CJK', '我要投诉你们！！！'],
    ['punctuation storm', '!!!???!!!'.repeat(1000)],
    ['control characters', '\u0000\u0001\u0007 hello'],
  ])('never throws on %s input', (_name, content) => {
    const r = scoreFeedback({ content });
    expectValid(r);
  });

  it('handles huge input', () => {
    const huge = 'I am writing again because nobody answers. '.repeat(50_000) + ' I will sue you!';
    expect(huge.length).toBeGreaterThan(2_000_000);
    const r = scoreFeedback({ content: huge });
    expectValid(r);
    expect(rank(r.escalation_level)).toBeGreaterThanOrEqual(rank('medium'));
  });

  it('tolerates non-string content from untyped callers', () => {
    for (const content of [undefined, null, 42, {}, ['x']]) {
      expectValid(scoreFeedback({ content } as unknown as { content: string }));
    }
    expectValid(scoreFeedback(undefined as unknown as { content: string }));
  });

  it('is deterministic', () => {
    const input = { content: 'THIRD time asking!!! Refund me or I call my bank.', history: [{ sentiment: 0.2 }] };
    expect(scoreFeedback(input)).toEqual(scoreFeedback(input));
  });

  it('never throws and always returns valid levels for arbitrary strings (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 400 }),
        fc.array(fc.double(), { maxLength: 4 }),
        (content, hs) => {
          const r = scoreFeedback({ content, history: hs.map((s) => ({ sentiment: s })) });
          expectValid(r);
          if (hs.length === 0) expect(r.sentiment_shift).toBeUndefined();
        },
      ),
      { numRuns: 150 },
    );
  });
});
