import { Type, type Static } from '@sinclair/typebox';
import type { ErasureResult } from '../../shield/erasure.js';
import { DateTime } from '../schemas.js';
import type { Expect, SameKeys } from './check.js';

export const ErasureBody = Type.Object(
  { email: Type.String({ minLength: 3, maxLength: 320, description: "The consumer's e-mail address" }) },
  { additionalProperties: false },
);

const count = (description: string) => Type.Integer({ minimum: 0, description });

/** What an erasure changed, in counts: the same details the audit entry keeps (no personal data). */
export const ErasureResultSchema = Type.Object(
  {
    found: Type.Boolean({
      description: 'Whether anything of the person was stored; false for an unknown or already erased address',
    }),
    consumer_removed: Type.Boolean(),
    tokens_removed: count('consumer tokens deleted'),
    complaints_redacted: count("the person's complaints, kept without their identity and words"),
    messages_redacted: count('messages replaced (theirs) or scrubbed (staff quoting them)'),
    evidence_removed: count('evidence files deleted'),
    followups_redacted: count('follow-up answers replaced or questions scrubbed'),
    drafts_redacted: count('action and social drafts replaced'),
    events_redacted: count('event bodies redacted (pending deliveries send the redacted body)'),
    feedback_records_redacted: count('Shield feedback records linked to the address'),
    attempt_excerpts_cleared: count("delivery attempts' response excerpts dropped"),
    audit_id: Type.String({ description: 'The audit log entry of this erasure' }),
    erased_at: DateTime(),
  },
  { title: 'ErasureResult' },
);

type _ShapeChecks = [Expect<SameKeys<ErasureResult, Static<typeof ErasureResultSchema>>>];
