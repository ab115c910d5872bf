/**
 * Escalation cue detectors for Escalation Shield.
 *
 * Pure, deterministic, regex based. Every detector works on a normalised copy of the text
 * (lower case, curly quotes straightened, Latin diacritics stripped) so that "résilier",
 * "resilier", "Résilier" all match the same pattern. Explicit threats are checked for
 * negation ("I will NOT sue", "no need to involve my bank") and for being asked as a question
 * ("how do I dispute a charge?").
 *
 * Cue ids (stable, used in ScoreResult.cues):
 *   explicit threats : legal_threat, regulator, chargeback, churn_threat, public_shaming
 *   softer signals   : churn_risk, repeated_contact, manager_request, ultimatum, accusation
 *   emotion          : profanity, shouting, emphasis, exclamation, anger_words, angry_emoji
 *   other            : problem_report (something went wrong), sarcasm ("Oh great, another \"update\""),
 *                      polite_register ("Dear Sir/Madam", "kindly", "please be advised")
 */

export const THREAT_CUES = ['legal_threat', 'regulator', 'chargeback', 'churn_threat', 'public_shaming'] as const;
export const SOFT_CUES = ['churn_risk', 'repeated_contact', 'manager_request', 'ultimatum', 'accusation'] as const;
export const EMOTION_CUES = ['profanity', 'shouting', 'emphasis', 'exclamation', 'anger_words', 'angry_emoji'] as const;
const OTHER_CUES = ['problem_report', 'sarcasm', 'polite_register'] as const;

export type ThreatCue = (typeof THREAT_CUES)[number];
export type SoftCue = (typeof SOFT_CUES)[number];
export type CueId = ThreatCue | SoftCue | (typeof EMOTION_CUES)[number] | (typeof OTHER_CUES)[number];

/** Fixed output order of cue ids. */
export const CUE_ORDER: readonly CueId[] = [...THREAT_CUES, ...SOFT_CUES, ...EMOTION_CUES, ...OTHER_CUES];

/** Where a cue matched: offsets in the original text (UTF-16 code units, end exclusive). */
interface CueSpan {
  cue: CueId;
  start: number;
  end: number;
}

export interface CueAnalysis {
  /** Distinct cue ids found, in CUE_ORDER. */
  cues: CueId[];
  /** The first match of each cue found, in CUE_ORDER. */
  spans: CueSpan[];
  threats: ThreatCue[];
  soft: SoftCue[];
  /** Strong profanity (f-word, sh*t, c-word, insults) and mild (damn, crap, bloody, wtf). */
  profanityStrong: number;
  profanityMild: number;
  /** Words of 2+ letters written fully in capitals (known acronyms excluded) / all such words. */
  capsRatio: number;
  capsWords: number;
  wordCount: number;
  /** Longest run of "!" / "?" / "¡" characters, and total "!" count. */
  maxBangRun: number;
  bangs: number;
  angerWords: number;
  angryEmoji: number;
  problemReport: boolean;
  /** Praise vocabulary present (used to dampen profanity / caps in positive messages). */
  praise: boolean;
  /** Praise words used ironically: the scorer flips a positive sentiment. */
  sarcasm: boolean;
  /** Formal / polite register markers. */
  polite: boolean;
  /** Share of words that are common English function words (0 for non-English text). */
  englishShare: number;
  /** Share of words that are common Spanish/French/German/Hindi-in-Latin function words. */
  foreignShare: number;
  /** More foreign than English function words: the English lexicons cannot be trusted. */
  nonEnglish: boolean;
}

/** Input longer than this is truncated before cue detection (keeps the worst case bounded). */
const MAX_CUE_CHARS = 20_000;

// ---------------------------------------------------------------------------------------------
// Normalisation

function normalise(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '') // Latin combining marks only (Devanagari matras are kept)
    .replace(/[\u2018\u2019\u02bc`´]/g, "'")
    .replace(/[\u201c\u201d«»]/g, '"')
    .replace(/ß/g, 'ss')
    .toLowerCase();
}

/** The normalised text and, for each of its characters, the [start, end) of the original characters it came from. */
export interface NormalisedText {
  norm: string;
  from: number[];
  to: number[];
}

export function normaliseWithOffsets(text: string): NormalisedText {
  let norm = '';
  const from: number[] = [];
  const to: number[] = [];
  let i = 0;
  for (const ch of text) {
    const piece = normalise(ch);
    norm += piece;
    for (let k = 0; k < piece.length; k++) {
      from.push(i);
      to.push(i + ch.length);
    }
    i += ch.length;
  }
  return { norm, from, to };
}

/** Original-text offsets of the normalised range [start, end). */
function originalRange(n: NormalisedText, start: number, end: number): { start: number; end: number } {
  if (n.from.length === 0) return { start: 0, end: 0 };
  const s = Math.min(start, n.from.length - 1);
  const e = Math.max(s, Math.min(end, n.to.length) - 1);
  return { start: n.from[s]!, end: n.to[e]! };
}

// ---------------------------------------------------------------------------------------------
// Negation / question handling for explicit threats

const NEGATOR =
  /^(not|no|never|without|nor|cannot|cant|wont|dont|didnt|doesnt|isnt|arent|wasnt|wouldnt|shouldnt|ne|pas|jamais|nunca|nicht|kein|keine|keinen|nahi|nahin|mat)$/;
const CONDITIONAL = /^(if|unless|until|when|si|wenn|falls|agar|jab)$/;
const CLAUSE_BREAK = /[.!?;:,\n]|\b(?:but|and|so|because|however|though|pero|mais|aber|lekin|par|y|et|und|aur)\b/g;
/** "you're leaving me no choice", "you leave me no option": a negated threat that is really a threat. */
const NO_CHOICE =
  /\b(?:leav(?:e|es|ing)|left|give|giving|have|had)\s+(?:me|us)?\s*(?:no|little)\s+(?:other\s+)?(?:choice|option|alternative)s?\b/;
const QUESTION_START =
  /^(?:how|what|where|when|which|who|can|could|do|does|is|are|should|would|may|kya|como|comment|wie)\b/;

function tokenEndsNegative(tok: string): boolean {
  const t = tok.replace(/[^a-z']/g, '');
  if (t.endsWith("n't")) return true;
  return NEGATOR.test(t.replace(/'/g, ''));
}

/** True when the clause immediately before `index` negates what follows ("I will not sue"). */
function negatedAt(norm: string, index: number): boolean {
  let before = norm.slice(Math.max(0, index - 80), index);
  CLAUSE_BREAK.lastIndex = 0;
  let cut = -1;
  let m: RegExpExecArray | null;
  while ((m = CLAUSE_BREAK.exec(before)) !== null) cut = m.index + m[0].length;
  if (cut >= 0) before = before.slice(cut);
  const toks = before.split(/\s+/).filter(Boolean);
  for (let i = Math.max(0, toks.length - 6); i < toks.length; i++) {
    const tok = toks[i]!;
    if (!tokenEndsNegative(tok)) continue;
    const next = toks[i + 1]?.replace(/[^a-z]/g, '');
    if (/^not$/.test(tok.replace(/[^a-z]/g, '')) && (next === 'only' || next === 'just')) continue; // "not only am I cancelling"
    // a negator inside an if/unless clause belongs to the condition: "if this isn't fixed I'm cancelling"
    if (toks.slice(0, i).some((t) => CONDITIONAL.test(t.replace(/[^a-z]/g, '')))) continue;
    return true;
  }
  return false;
}

/** Bounds on the work done per match, so that adversarial input stays linear. */
const SENTENCE_WINDOW = 400;
const MAX_MATCHES_PER_PATTERN = 40;

/** The sentence containing `index` (at most SENTENCE_WINDOW characters either side). */
function sentenceAt(norm: string, index: number): string {
  const lo = Math.max(0, index - SENTENCE_WINDOW);
  const hi = Math.min(norm.length, index + SENTENCE_WINDOW);
  let start = index;
  while (start > lo && !/[.!?\n]/.test(norm[start - 1]!)) start--;
  let end = index;
  while (end < hi && !/[.!?\n]/.test(norm[end]!)) end++;
  if (end < hi) end++; // include the terminator
  return norm.slice(start, end).trim();
}

/** "How do I dispute a charge?" is an inquiry, not a threat. */
function isInquiry(sentence: string): boolean {
  return sentence.endsWith('?') && QUESTION_START.test(sentence.replace(/^[^a-z]+/, ''));
}

// ---------------------------------------------------------------------------------------------
// Patterns (on normalised text)

const R = (s: string) => new RegExp(s, 'g');

const PRAISE_RE =
  /\b(?:thanks?|thank you|great|love|loved|amazing|awesome|excellent|brilliant|best|recommend|perfect|fantastic|helpful|impressed|five stars|5 stars|appreciate\w*)\b/;
const NEGATIVE_RE =
  /\b(?:avoid|worst|bad|terrible|awful|scam\w*|rip\w*off|horrible|useless|disgust\w*|appalling|never|don't|fall for)\b/;

/** A pattern; `action` means it only counts with an action verb in the same sentence. */
interface ThreatPattern {
  re: RegExp;
  action?: boolean;
}
const A = (re: RegExp): ThreatPattern => ({ re, action: true });

const RAW_THREAT_PATTERNS: Record<ThreatCue, (RegExp | ThreatPattern)[]> = {
  legal_threat: [
    R(
      String.raw`\b(?:lawyers?|attorneys?(?! general)|solicitors?|barristers?|legal counsel|counsel's|our counsel|my counsel)\b`,
    ),
    R(
      String.raw`\b(?:sue|sued|suing|lawsuits?|law suit|litigation|litigate|legal action|legal proceedings|commence proceedings|legal notice|legal (?:team|department|dept)|legal rights|class action|small claims|claim for damages|county court|high court|see you in court|take (?:you|this|it) to court)\b`,
    ),
    R(String.raw`(?<!consumer )\bcourt\b`),
    R(String.raw`\b(?:police|action fraud)\b`),
    R(
      String.raw`\b(?:demand(?:o|e|en|ando|aremos|are)|acciones legales|juicio|case kar(?:unga|ungi|enge|na padega)|court case)\b`,
    ),
    // Devanagari: वकील (lawyer), अदालत (court), पुलिस (police), केस (case), कानूनी (legal)
    /(?:वकील|अदालत|पुलिस|केस कर|कानूनी)/g,
    // es / fr / de / hi (latin script)
    R(
      String.raw`\b(?:abogad[oa]s?|demandar\w*|denunciar\w*|avocats?|porter plainte|poursuivre en justice|poursuites|mise en demeure|tribunal|anwalt\w*|rechtsanwalt\w*|verklag\w*|klage einreichen|gericht|vakil|adalat)\b`,
    ),
  ],
  regulator: [
    A(
      R(
        String.raw`\b(?:ftc|cfpb|bbb|better business bureau|ombuds(?:man|men|person)|consumer (?:court|forum|protection|affairs|helpline|commission)|fca|trading standards|ofcom|ofgem|ofwat|information commissioner|attorney general|fcc|dot complaint|department of transportation|cma|accc|rbi|trai|irdai|sebi|ico complaint|oficina (?:de|del) (?:consumo|consumidor)|profeco|omic|defensa del consumidor|dgccrf|mediateur|verbraucherzentrale|bafin|schlichtungsstelle|bundesnetzagentur|regulator|regulatory body|watchdog)\b`,
      ),
    ),
  ],
  chargeback: [
    R(
      String.raw`\b(?:charge ?-?backs?|reverse (?:the |this |my )?(?:payment|charge|transaction)|stop (?:the )?payment|withhold\w* payment)\b`,
    ),
    R(
      String.raw`\bdisput\w*(?:\s+\S+){0,4}?\s+(?:charges?|transactions?|payments?|with (?:my|the) (?:bank|card|credit card)|with (?:paypal|amex|visa|mastercard))\b`,
    ),
    R(String.raw`\bdisput\w*\s+(?:it|this|all of it|everything)\b`),
    R(
      String.raw`\b(?:raised?|opened?|filed?|open) (?:a |an )?(?:dispute|claim) with (?:paypal|my bank|the bank|amex|visa|mastercard|my card)\b`,
    ),
    R(
      String.raw`\b(?:call\w*|contact\w*|tell|told|involv\w*|ask\w*|report\w*|going to|phone\w*)\s+(?:\S+\s+)?(?:my|the)\s+(?:bank|card (?:company|issuer|provider)|credit card (?:company|issuer))\b`,
    ),
    R(
      String.raw`\b(?:my|the) (?:bank|card company|card issuer|credit card company) (?:is|are|will) (?:going to )?(?:hear|know)\b`,
    ),
    R(String.raw`\b(?:reported|report) to (?:my|the) bank\b`),
    R(
      String.raw`\b(?:disputa con el banco|reclamar el cargo|faire opposition|opposition aupres de (?:ma|la) banque|ruckbuchung|lastschrift zuruck\w*)\b`,
    ),
  ],
  churn_threat: [
    R(
      String.raw`\b(?:cancel(?:o|en|are|aremos)|(?:me )?(?:doy|damos|dar|darme|darnos) de baja|nunca mas (?:vuelvo|compro|les compro|voy)|me (?:voy|cambio) (?:con|a) (?:la competencia|otra)|portabilidad|port(?:ing)? (?:my |our )?number|pac code|i'?m out(?= after| of here|\s*[.!]|\s*$)|i walk|leaving for good|book with another|stop paying|dejo de pagar)\b`,
    ),
    R(
      String.raw`\b(?:(?:account|acount|connection|subscription|plan|number|sim|card) (?:band|close|cancel)(?! (?:nahi|nhi|mat|nahin)\b)|band (?:kar|kr)(?:o|do|dijiye|wa do)|cancel kar (?:dunga|dungi|denge|do|dijiye)|port kar do|kisi aur ka plan|chhod (?:dunga|dungi|denge)|kabhi wapas nahi|payment band)\b`,
    ),
    /(?:अकाउंट बंद|कनेक्शन कैंसल|कैंसल कर|बंद कर दीजिए|बंद कर दो)/g,
    R(
      String.raw`(?<!\b(?:was|were|been|got|get|being|is|be)\s)\b(?:cancel(?:l?ing|l?ed|s)?|cancelar|resilier|resilie|kundig\w*)\b(?!\s+(?:my |the |this |your |a |an |our )?(?:order|orders|booking|reservation|appointment|delivery|deliveries|request|transfer|item|flight|meeting|call)\b)(?=\s+(?:my|our|the|this|your|it|everything|all|mon|ma|mes|meinen|mein|mi|la|y|et|and|rn|now|right|immediately|effective|sofort|unless|if)\b|\s*[.!,]|\s*$)`,
    ),
    R(
      String.raw`\b(?:cancel(?:l?ing|l?ed)?|close|closing|terminat\w*|end|ending|not renew\w*|won't renew|will not renew|don't renew|do not renew)\s+(?:\S+\s+){0,2}?(?:account|subscription|membership|plan|contract|policy|agreement|card|broadband|sub|service)s?\b`,
    ),
    R(String.raw`\b(?:won't|will not|not|never) (?:be )?renew\w*\b`),
    R(
      String.raw`\b(?:switch\w*|mov(?:e|ing)|go(?:ing)?|tak(?:e|ing)|tak(?:e|ing) (?:my|our) (?:business|money|custom))\s+(?:\S+\s+){0,3}?(?:to\s+)?(?:a\s+|an\s+)?(?:another|a different|other|new)\s+(?:provider|bank|company|carrier|vendor|supplier|network|airline|store|shop|brand|platform|service)s?\b`,
    ),
    R(String.raw`\b(?:switch\w*|moving) (?:providers|banks|carriers|suppliers|networks|vendors)\b`),
    R(
      String.raw`\bswitch(?:ing|ed)? (?:over )?to (?!(?:the |a |an |my |our )?(?:annual|yearly|monthly|weekly|dark|light|new|pro|premium|basic|plus|family|business|card|paper|digital|e-?billing)\b)[a-z]+`,
    ),
    R(String.raw`\b(?:competitors?|your competition|rival)\b`),
    R(String.raw`\b(?:look\w*|shop\w*|tak\w* (?:my|our) (?:business|money|custom)) elsewhere\b`),
    R(
      String.raw`\bnever\s+(?:\S+\s+)?(?:buy|order|shop|use|fly|book|deal)\w*\s+(?:\S+\s+){0,3}?again\b|\bnever (?:com(?:e|ing) back|returning|again)\b`,
    ),
    R(
      String.raw`\b(?:unsubscrib\w*|done with (?:you|your|this company|this service)|lost (?:a|another) customer|you(?:'ve| have) lost (?:me|a customer))\b`,
    ),
    R(
      String.raw`\b(?:alternative (?:vendors?|providers?|suppliers?)|darme de baja|cambiarme de (?:compania|proveedor)|changer d'(?:operateur|fournisseur)|account band(?! (?:nahi|nhi|mat|nahin)\b)|(?:dusri|doosri) company|vertrag kundig\w*)\b`,
    ),
  ],
  public_shaming: [
    R(
      String.raw`\b(?:(?:my|all my|mis|todos mis) (?:followers|seguidores)|una estrella|everyone will read|review everyone)\b`,
    ),
    A(
      R(
        String.raw`\b(?:twitter|tweet\w*|facebook|instagram|insta|tiktok|reddit|youtube|linkedin|social media|redes sociales|reseaux sociaux)\b`,
      ),
    ),
    R(
      String.raw`\b(?:(?:1|one)[- ]star|bad review|negative review|terrible review|scathing review|honest review|review sites?|every review|trustpilot|yelp|google reviews?|avis negatif|mala resena|schlechte bewertung)\b`,
    ),
    R(String.raw`\btell(?:ing)? (?:everyone|everybody|all my \w+|people|the world|others|my friends)\b`),
    R(
      String.raw`\b(?:warn\w* (?:others|people|everyone)|so (?:that )?(?:others|other people|people) (?:don't|do not|can|know)|everyone knows how|sabko bataunga|go (?:public|viral)|expose (?:you|this))\b`,
    ),
    R(String.raw`\bpost\w* (?:this |it |about (?:this|it) )?(?:everywhere|online|all over)\b`),
    A(
      R(
        String.raw`\b(?:the press|the news|local news|news ?papers?|the papers|local paper|journalists?|reporters?|the media|bbc|watchdog (?:show|programme))\b`,
      ),
    ),
  ],
};

const THREAT_PATTERNS = Object.fromEntries(
  Object.entries(RAW_THREAT_PATTERNS).map(([k, ps]) => [k, ps.map((p) => (p instanceof RegExp ? { re: p } : p))]),
) as Record<ThreatCue, ThreatPattern[]>;

/** Action verbs for gated patterns (a regulator or a social network named in passing is not a threat). */
const ACTION_WORDS: Partial<Record<ThreatCue, RegExp>> = {
  regulator:
    /\b(?:report\w*|complain\w*|file|filing|filed|refer\w*|escalat\w*|contact\w*|writ\w*|lodg\w*|raise|rais\w*|go|going|gone|take|taking|case|jaunga|karunga|next|reclam\w*|queja|plainte|signal\w*|beschwer\w*|meld\w*|hear|involv\w*)\b/,
  public_shaming:
    /\b(?:post\w*|shar\w*|writ\w*|tell\w*|put\w*|go|going|hear\w*|report\w*|warn\w*|expos\w*|leav\w*|review\w*|blast\w*|up|everyone|everybody|sabko|laisse|pondre|denuncia|contact\w*|avoid)\b/,
};

const SOFT_PATTERNS: Record<SoftCue, RegExp[]> = {
  churn_risk: [
    R(
      String.raw`\b(?:thinking|think|considering|consider|looking)\s+(?:about|of|at|into)?\s*(?:switching|leaving|cancel\w*|moving|other providers?|another provider|other options|alternatives?|other companies)\b`,
    ),
    R(
      String.raw`\b(?:regret\w* (?:choosing|signing|joining|buying)|close to cancel\w*|last time i (?:buy|order|use)|loyal customer|customer for \d+ years)\b`,
    ),
  ],
  repeated_contact: [
    R(
      String.raw`\b(?:second|third|fourth|fifth|sixth|nth|umpteenth|\d+(?:st|nd|rd|th))\s+(?:time|email|call|message|ticket|letter|attempt|week|request)s?\b`,
    ),
    R(
      String.raw`\b(?:\d+|two|three|four|five|six|several|multiple|many|countless|numerous)\s+(?:times|emails|calls|messages|tickets|occasions|attempts|previous occasions)\b`,
    ),
    R(
      String.raw`\b(?:twice now|in a row|how many times|yet again|once again|still (?:no|not|waiting|nothing|haven't|hasn't|can't|no one|nobody|without)|been waiting|waiting (?:for|since) (?:\d+|a|two|three|weeks|days|months|monday|tuesday|wednesday|thursday|friday)|no (?:one|body) (?:has |have )?(?:got|get|gets|responded|replied|called|answered|reads|takes|tells|will)|nobody (?:has |have )?(?:got|responded|replied|called|answered|reads|takes|tells|will)|no (?:response|reply|answer|update)s?\b|ignored (?:me|us|my)|has ignored|chas(?:e|ed|ing) (?:this|you|again|it)|follow\w*[- ]up (?:again|on my)|(?:writing|asking|emailing|calling|contacting|chasing|telling) (?:you )?again)`,
    ),
    R(
      String.raw`\b(?:tercera|cuarta|quinta|segunda) vez|sigo esperando|nadie (?:me )?responde|otra vez|(?:deuxieme|troisieme|quatrieme) fois|toujours (?:aucune|pas|rien)|encore une fois|personne ne repond|zum (?:zweiten|dritten|vierten) mal|schon wieder|nochmal|keine antwort|immer noch|(?:teesri|doosri|dusri|chauthi) baar|kitni baar|koi (?:response|jawab) nahi|abhi tak nahi\b`,
    ),
  ],
  manager_request: [
    R(
      String.raw`\b(?:(?:speak|talk)\w* (?:to|with) (?:a|your|the|someone) (?:manager|supervisor|senior|in charge)|supervisor|someone senior|higher authorit\w*|complaints? (?:team|department)|formal complaint|head office|your ceo|escalat\w*|take (?:this|it|things) further)\b`,
    ),
  ],
  ultimatum: [
    R(
      String.raw`\b(?:(?:by|before) (?:tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|end of (?:the )?(?:day|week|month))|within \d+ (?:hours|days|working days)|\d+ (?:hours|days) to|or else|last chance|final (?:warning|chance|notice)|consider (?:my|our) options|no (?:other )?choice|enough chances|enough is enough|unless|or i(?:'ll| will| am|'m)|give me (?:\S+\s+){0,4}or)\b`,
    ),
  ],
  accusation: [
    R(
      String.raw`\b(?:scam\w*|fraud\w*|thie(?:f|ves|ving)|stole|stolen|steal\w*|rip(?:ped)?[- ]?off|ripoff|criminals?|crooks?|con artists?|cheat\w*|mis-?sold|estafa\w*|ladrones|arnaque\w*|voleurs?|betrug\w*|betruger|dhokha\w*|chor)\b`,
    ),
  ],
};

const PROFANITY_STRONG = R(
  String.raw`\b(?:f+u+c+k+\w*|f[*@#!]+(?:c?k|ck)\w*|f\*+\w*|fck\w*|fuk\w*|fking|effing|motherf\w*|sh[i*!1]t\w*|bullsh\w*|cunts?|bastards?|assholes?|arseholes?|dickheads?|wankers?|twats?|bitch\w*|scumbags?|mierda|joder|puta|cabron\w*|merde|putain|bordel|connards?|schei(?:ss|s)e?\w*|arschloch|chutiy\w*|bhenchod|madarchod|harami)\b`,
);
const PROFANITY_MILD = R(
  String.raw`\b(?:damn\w*|dammit|crap\w*|bloody|piss\w*|wtf|ffs|stfu|sucks?|the hell|what the hell|hell no|bollocks|arse|idiots?|morons?|clowns?|saala|saale|verdammt|carajo)\b`,
);
const ANGER_WORDS = R(
  String.raw`\b(?:furious|livid|fuming|outraged|outrageous|enraged|disgust\w*|disgrace\w*|appalling|appalled|pathetic|ridiculous|unacceptable|incompetent|incompetence|useless|joke|shambles|horrendous|atrocious|sick of|fed up|had enough|beyond a joke|unbelievable|worst|rubbish|trash|garbage|ruined|criminals?|inaceptable|verguenza|harto|hartos|furios[oa]|pesim[oa]|desastre|indignante|inadmissible|honte|scandaleux|furieux|furieuse|inacceptable|marre|nul|frechheit|unverschamt|katastrophe|wutend|stinksauer|skandal\w*|nicht akzeptabel|bakwas|bekar|bekaar|ghatiya|faltu|mazaak)\b`,
);
const ANGRY_EMOJI = /(?:\u{1F621}|\u{1F92C}|\u{1F620}|\u{1F4A2}|\u{1F624}|\u{1F44E}|\u{1F644}|\u{1F612}|\u{1F595})/gu;
const PROBLEM_RE = new RegExp(
  String.raw`\b(?:late|delayed|delay|broken|broke|break|breaks|damaged|missing|lost|wrong|incorrect|error|errors|mistake|defective|faulty|crash\w*|leak\w*|stopped|not working|doesn't work|don't work|didn't|hasn't|haven't|wasn't|isn't|never|refund\w*|charged|overcharged|twice|cold|soggy|shrank|ignored|confusing|issue|issues|problem|problems|slow|off|down|annoying|unfair|steep|disappoint\w*|can't|cannot|poor|bad|worst|terrible|awful|rude|no one|nobody|nothing|spam|useless|smashed|soaked|cancelled|canceled|losing|without|excuses|dropp\w*|fail\w*|not received|logging me out|nadie|nada|ningun\w*|personne|aucune?|niemand|nichts|loops|hard to use|waiting|incompleto|falta|no funciona|roto|reembolso|cargo|ne fonctionne pas|casse|abime|decu|ouvert|beschadigt|kaputt|defekt|enttauscht|nicht|nahi aaya|toota|kharab|galat|problem)\b`,
);

const SARCASM_OPENER = new RegExp(
  String.raw`(?:^|[.!?]\s+)(?:oh\s+)?(?:wow|brilliant|lovely|great|fantastic|perfect|wonderful|amazing|marvell?ous|super|nice one|oh sure|sure)\s*[.,!]|\b(?:oh (?:great|sure|lovely|wonderful|brilliant|perfect|joy)|just what i (?:needed|wanted)|thanks? (?:a lot |so much )?for nothing|cheers for nothing|great job|well done|stellar (?:work|job|service)|bravo|slow clap|yeah right|thanks a bunch)\b|(?:^|[.!?]\s+)so much for\b`,
);
/** A positive word in scare quotes: the "fast" shipping, your "premium" headphones, so-called support. */
const SCARE_QUOTES =
  /"(?:fast|quick|express|premium|priority|help|helpful|support|update|service|free|guaranteed|customer care|next[- ]day)[^"]{0,20}"|\bso-?called\b/;
const EYE_ROLL = /(?:\u{1F644}|\u{1F44F}|\u{1F612})/u;
const POLITE_RE =
  /\b(?:kindly|dear (?:sir|sirs|madam|team|sir\/madam|customer)|please be advised|(?:i|we) would (?:be )?(?:appreciate|grateful)|i should be grateful|would you (?:please|kindly)|thank you in advance|please advise|as discussed|please note|per our|yours (?:sincerely|faithfully))\b/;
/** Frequent function words of the other languages seen in feedback (es, fr, de, pt, it, Hindi in Latin script). */
const FOREIGN_WORDS = new Set(
  (
    'el los las que y es por para con mi mis su una pero muy esto esta estoy sigo nadie nada ya ' +
    'le les et est je vous pas une des du pour avec mon ma mes ce cette sur mais tres toujours personne rien ' +
    'der die das und ich ist nicht mit fur sie wir ein eine mein meine meinen seit zum schon sehr bitte ' +
    'hai hain ka ki ke mera meri mujhe nahi nahin kya aur ko se bhi yeh ye raha rahi hoon tak kar karo baar ' +
    'um uma nao com voce il di che sono non'
  ).split(' '),
);
const ENGLISH_WORDS = new Set(
  (
    'the a an to is are was were i you my me we our your it this that and or but for of in on with have has had be been not no at ' +
    "from so just will would can could what why how do did does don't i'm it's i've they them please thanks thank very again still " +
    'there here all any about get got if when who which as by up out one'
  ).split(' '),
);

const ACRONYMS = new Set([
  'ftc',
  'cfpb',
  'bbb',
  'fca',
  'fcc',
  'dot',
  'rbi',
  'trai',
  'sebi',
  'cma',
  'ico',
  'accc',
  'usa',
  'uk',
  'us',
  'eu',
  'usd',
  'gbp',
  'eur',
  'inr',
  'vat',
  'gst',
  'asap',
  'ok',
  'id',
  'pdf',
  'csv',
  'faq',
  'tv',
  'pc',
  'ceo',
  'cto',
  'sms',
  'otp',
  'atm',
  'emi',
  'dm',
  'pr',
  'hr',
  'it',
  'ai',
  'api',
  'dgccrf',
  'amex',
  'visa',
  'upi',
  'kyc',
  'pin',
  'sim',
  'ups',
  'dhl',
  'fedex',
  'dpd',
  'bbc',
  'nhs',
  'hmrc',
  'dvla',
  'irs',
  'url',
  'ui',
  'ux',
  'ssd',
  'gb',
  'mb',
  'hd',
  'led',
  'lcd',
  'ac',
  'dc',
  'am',
  'pm',
  'gmt',
  'utc',
  'ist',
  'est',
  'pst',
  'cet',
  'ltd',
  'llc',
  'inc',
  'plc',
  'iban',
  'swift',
  'bic',
  'nri',
  'iso',
  'rfc',
  'sla',
  'fyi',
  'tbh',
  'imo',
  'lol',
  'ocu',
  'omic',
]);

// ---------------------------------------------------------------------------------------------

type Found = { index: number; length: number } | null;

/** Number of matches and the first one. */
function countMatches(re: RegExp, s: string): { n: number; first: Found } {
  re.lastIndex = 0;
  let n = 0;
  let first: Found = null;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    first ??= { index: m.index, length: m[0].length };
    n++;
  }
  return { n, first };
}

function firstMatch(re: RegExp, s: string): Found {
  const g = re.global ? re : new RegExp(re.source, re.flags + 'g');
  g.lastIndex = 0;
  const m = g.exec(s);
  return m ? { index: m.index, length: m[0].length } : null;
}

function findThreat(cue: ThreatCue, norm: string, noChoice: boolean): Found {
  const action = ACTION_WORDS[cue];
  for (const { re, action: gated } of THREAT_PATTERNS[cue]) {
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    let seen = 0;
    while ((m = re.exec(norm)) !== null && seen++ < MAX_MATCHES_PER_PATTERN) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      const sentence = sentenceAt(norm, m.index);
      if (cue !== 'churn_threat' && isInquiry(sentence)) continue;
      if (!noChoice && negatedAt(norm, m.index)) continue;
      if (gated && action && !action.test(sentence.replace(m[0], ' '))) continue;
      // "Five stars, will be leaving a review on Trustpilot!", "I'll tell all my friends, best service ever"
      if (cue === 'public_shaming' && PRAISE_RE.test(sentence) && !NEGATIVE_RE.test(sentence)) continue;
      return { index: m.index, length: m[0].length };
    }
  }
  return null;
}

/** Praise words not negated by the word before ("not impressed", "not happy", "wasn't helpful"). */
function hasPraise(norm: string): boolean {
  const re = new RegExp(PRAISE_RE.source, 'g');
  let m: RegExpExecArray | null;
  while ((m = re.exec(norm)) !== null) {
    const prev = norm
      .slice(Math.max(0, m.index - 24), m.index)
      .split(/\s+/)
      .filter(Boolean)
      .slice(-2);
    if (!prev.some(tokenEndsNegative)) return true;
  }
  return false;
}

function findSoft(cue: SoftCue, norm: string): Found {
  for (const re of SOFT_PATTERNS[cue]) {
    const m = firstMatch(re, norm);
    if (m) return m;
  }
  return null;
}

export function detectCues(input: string): CueAnalysis {
  const text = typeof input === 'string' ? input.slice(0, MAX_CUE_CHARS) : '';
  const normalised = normaliseWithOffsets(text);
  const norm = normalised.norm;
  const noChoice = NO_CHOICE.test(norm);
  const at = new Map<CueId, { start: number; end: number }>();
  const mark = (cue: CueId, f: Found) => {
    if (f && !at.has(cue)) at.set(cue, originalRange(normalised, f.index, f.index + f.length));
  };

  const threats = THREAT_CUES.filter((c) => {
    const f = findThreat(c, norm, noChoice);
    mark(c, f);
    return f !== null;
  });
  const soft = SOFT_CUES.filter((c) => {
    const f = findSoft(c, norm);
    mark(c, f);
    return f !== null;
  });

  // Shouting: words of 2+ letters (tokens with digits skipped), all upper case, not known acronyms.
  let wordCount = 0;
  let capsWords = 0;
  let capsLetters = 0;
  let englishWords = 0;
  let foreignWords = 0;
  let capsFirst = -1;
  let capsLast = -1;
  const tokenRe = /\S+/g;
  let tm: RegExpExecArray | null;
  while ((tm = tokenRe.exec(text)) !== null) {
    const tok = tm[0];
    if (/\d/.test(tok)) continue;
    const letters = tok.replace(/[^\p{L}]/gu, '');
    if (letters.length < 2) {
      if (letters.toLowerCase() === 'i' || letters.toLowerCase() === 'a') {
        wordCount++;
        englishWords++;
      }
      continue;
    }
    wordCount++;
    const low = normalise(tok).replace(/[^a-z']/g, '');
    if (ENGLISH_WORDS.has(low)) englishWords++;
    else if (FOREIGN_WORDS.has(low)) foreignWords++;
    if (/\p{Lu}/u.test(letters) && !/\p{Ll}/u.test(letters) && !ACRONYMS.has(letters.toLowerCase())) {
      capsWords++;
      capsLetters += letters.length;
      if (capsFirst < 0) capsFirst = tm.index;
      capsLast = tm.index + tok.length;
    }
  }
  const capsRatio = wordCount ? capsWords / wordCount : 0;
  const englishShare = wordCount ? englishWords / wordCount : 0;
  const foreignShare = wordCount ? foreignWords / wordCount : 0;

  let maxBangRun = 0;
  let bangAt: { start: number; end: number } | null = null;
  const runRe = /[!?¡¿]{2,}/g;
  let rm: RegExpExecArray | null;
  while ((rm = runRe.exec(text)) !== null) {
    const run = rm[0];
    if ((run.includes('!') || run.includes('¡')) && run.length > maxBangRun) {
      maxBangRun = run.length;
      bangAt = { start: rm.index, end: rm.index + run.length };
    }
  }
  const bangs = (text.match(/[!¡]/g) ?? []).length;
  if (maxBangRun === 0 && bangs > 0) maxBangRun = 1;

  const strong = countMatches(PROFANITY_STRONG, norm);
  const mild = countMatches(PROFANITY_MILD, norm);
  const anger = countMatches(ANGER_WORDS, norm);
  const profanityStrong = strong.n;
  const profanityMild = mild.n;
  const angerWords = anger.n;
  const emoji = countMatches(ANGRY_EMOJI, text);
  const angryEmoji = emoji.n;
  const problem = firstMatch(PROBLEM_RE, norm);
  const problemReport = problem !== null;
  const praise = hasPraise(norm);
  const scare = firstMatch(SCARE_QUOTES, norm);
  const opener = firstMatch(SARCASM_OPENER, norm);
  const eyeRoll = EYE_ROLL.test(text);
  const sarcasm =
    scare !== null ||
    (opener !== null && (problemReport || angryEmoji > 0 || eyeRoll)) ||
    (praise && eyeRoll && problemReport);
  const politeAt = firstMatch(POLITE_RE, norm);
  const polite = politeAt !== null;

  const shouting = capsWords >= 3 && capsRatio >= 0.5;
  const emphasis = !shouting && capsWords >= 1 && capsLetters >= 4;

  const found = new Set<CueId>([...threats, ...soft]);
  const add = (cue: CueId, span: { start: number; end: number } | null) => {
    found.add(cue);
    if (span && !at.has(cue)) at.set(cue, span);
  };
  const inNorm = (f: Found) => (f ? originalRange(normalised, f.index, f.index + f.length) : null);
  if (profanityStrong + profanityMild > 0) {
    const first = [strong.first, mild.first].filter((f): f is NonNullable<Found> => f !== null);
    add('profanity', inNorm(first.sort((a, b) => a.index - b.index)[0] ?? null));
  }
  const capsSpan = capsFirst >= 0 ? { start: capsFirst, end: capsLast } : null;
  if (shouting) add('shouting', capsSpan);
  if (emphasis) add('emphasis', capsSpan);
  if (maxBangRun >= 2) add('exclamation', bangAt);
  if (angerWords > 0) add('anger_words', inNorm(anger.first));
  if (angryEmoji > 0)
    add('angry_emoji', emoji.first ? { start: emoji.first.index, end: emoji.first.index + emoji.first.length } : null);
  if (problemReport) add('problem_report', inNorm(problem));
  if (sarcasm) add('sarcasm', inNorm(scare ?? opener));
  if (polite) add('polite_register', inNorm(politeAt));

  const cues = CUE_ORDER.filter((c) => found.has(c));
  return {
    cues,
    spans: cues.flatMap((cue) => {
      const span = at.get(cue);
      return span ? [{ cue, ...span }] : [];
    }),
    threats,
    soft,
    profanityStrong,
    profanityMild,
    capsRatio,
    capsWords,
    wordCount,
    maxBangRun,
    bangs,
    angerWords,
    angryEmoji,
    problemReport,
    praise,
    sarcasm,
    polite,
    englishShare,
    foreignShare,
    nonEnglish: foreignWords > englishWords,
  };
}
