import { describe, expect, it } from 'vitest';
import { detectCues } from '../../src/shield/scoring/cues.js';
import { scoreFeedback } from '../../src/shield/scoring/score.js';

const threats = (text: string) => detectCues(text).threats;
const atLeastHigh = (text: string) => ['high', 'extreme'].includes(scoreFeedback({ content: text }).escalation_level);

describe('Shield cues in every language of the labelled set, and their negation', () => {
  const cases: [lang: string, text: string, cue: string][] = [
    ['en', "I'm going to dispute the charge with my bank.", 'chargeback'],
    ['en', 'My lawyer will be in touch.', 'legal_threat'],
    ['en', 'Cancel my account today.', 'churn_threat'],
    ['es', 'Si no me devuelven mi dinero los demando.', 'legal_threat'],
    ['es', 'Quiero darme de baja, cancelo la suscripción.', 'churn_threat'],
    ['es', 'Voy a dejar una reseña de una estrella.', 'public_shaming'],
    ['hi-Latn', 'Agar kal tak theek nahi hua toh main connection cancel kar dunga.', 'churn_threat'],
    ['hi-Latn', 'Main vakil se baat kar raha hoon.', 'legal_threat'],
    ['hi-Latn', 'acount band kro mera plz', 'churn_threat'],
    ['hi-Deva', 'मेरा अकाउंट बंद कर दीजिए, अब और नहीं चाहिए।', 'churn_threat'],
    ['hi-Deva', 'मैं वकील से बात करूँगा।', 'legal_threat'],
    ['fr', 'Je vais résilier mon abonnement.', 'churn_threat'],
    ['de', 'Mein Anwalt wird sich bei Ihnen melden.', 'legal_threat'],
  ];
  it.each(cases)('%s: "%s" → %s, scored at least high', (_lang, text, cue) => {
    expect(threats(text)).toContain(cue);
    expect(atLeastHigh(text)).toBe(true);
  });

  const negated: [lang: string, text: string][] = [
    ['en', "I'm not going to sue anyone, I just want my order."],
    ['en', 'No need to involve my bank, the charge was mine.'],
    ['es', 'No voy a cancelar, solo quería saber cuándo se renueva.'],
    ['hi-Latn', 'Main account band nahi kar raha, lekin speed theek karo please.'],
    ['de', 'Ich will nicht kündigen, ich wollte nur den Tarif prüfen.'],
  ];
  it.each(negated)('%s: "%s" is not a threat', (_lang, text) => {
    expect(threats(text)).toEqual([]);
    expect(atLeastHigh(text)).toBe(false);
  });

  it('explains a score with spans that point into the text', () => {
    const text = 'Third time writing. Fix it or I’m disputing the charge with my bank!!';
    const s = scoreFeedback({ content: text });
    expect(s.signals.length).toBeGreaterThan(0);
    for (const sig of s.signals) if (sig.span) expect(text.slice(sig.span.start, sig.span.end)).toBe(sig.span.text);
    expect(s.signals.some((x) => x.signal === 'cue:chargeback' && x.span?.text === 'disputing the charge')).toBe(true);
  });
});
