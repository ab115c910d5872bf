import { Type, type Static } from '@sinclair/typebox';
import type {
  ActionDraftView,
  ComplaintDetail,
  ComplaintEventView,
  ComplaintSummary,
  EvidenceView,
  FollowupView,
  MessageView,
  SettlementOfferView,
  SocialDraftView,
} from '../../domain/complaints.js';
import type { NoteView } from '../../domain/complaint-notes.js';
import { ESCALATION_LEVELS, PRIORITIES, STAGES, STATUSES } from '../../domain/lifecycle.js';
import { DateTime, Nullable, StringEnum } from '../schemas.js';
import type { Expect, SameKeys } from './check.js';

// The published list example, verbatim: it is the OpenAPI example and the shape the response schema must keep.
export const SEED_LIST_EXAMPLE = {
  success: true,
  page: 1,
  limit: 25,
  total: 142,
  data: [
    {
      escalatr_id: 'ESC-VOLT-260417-00010',
      complaint_category: 'Consumer Durables',
      status: 'Escalated',
      stage: 'Escalation',
      escalation_level: 'L2',
      priority: 'high',
      amount_involved: 42000,
      currency: 'INR',
      is_overdue: false,
      created_at: '2026-04-17T09:21:00Z',
    },
  ],
};

/** The list item, field for field as published (the serializer drops anything not named here). */
export const ComplaintSummarySchema = Type.Object(
  {
    escalatr_id: Type.String({ description: 'ESC-{CODE}-{YYMMDD}-{NNNNN}' }),
    complaint_category: Type.String(),
    status: StringEnum(STATUSES),
    stage: StringEnum(STAGES),
    escalation_level: StringEnum(ESCALATION_LEVELS),
    priority: StringEnum(PRIORITIES),
    amount_involved: Nullable(Type.Number()),
    currency: Nullable(Type.String({ description: 'ISO 4217' })),
    is_overdue: Type.Boolean(),
    created_at: DateTime(),
  },
  { title: 'ComplaintSummary' },
);

export const ComplaintDetailSchema = Type.Object(
  {
    ...ComplaintSummarySchema.properties,
    title: Type.String(),
    description: Type.String(),
    sla_due_at: Nullable(
      DateTime({
        description:
          "When the level's response window ends, counted in the company's business hours (GET /settings/calendar); " +
          'null when no window runs (a staff answer stopped it, the complaint is closed) or while it is paused.',
      }),
    ),
    sla_paused: Type.Boolean({
      description:
        'True while the window waits for the consumer (an unanswered follow-up question or an open settlement offer, ' +
        'when the company pauses for them); it resumes with the time it had left once they answer.',
    }),
    updated_at: DateTime(),
    consumer: Nullable(Type.Object({ email: Type.String(), name: Nullable(Type.String()) })),
    claimed_by: Nullable(Type.String()),
    flagged_at: Nullable(
      DateTime({
        description:
          "When the company's breach rule flagged the complaint (PUT /settings/breach-rule); null if it has not.",
      }),
    ),
    delegated_to: Nullable(Type.String()),
    resolution: Nullable(
      Type.Object({
        resolution_type: Nullable(Type.String()),
        amount_recovered: Nullable(Type.Number()),
        notes: Nullable(Type.String()),
      }),
    ),
    company_completed: Type.Boolean({
      description:
        'True once staff completed the complaint (with resolution notes) while it is still Open or Escalated: the ' +
        "company's side is done and the consumer's confirmation (resolve) or escalation is awaited.",
    }),
    awaiting: Nullable(
      StringEnum(['company', 'consumer'] as const, {
        description:
          'Who acts next: `company` (claim, then complete), `consumer` (the company completed it: resolve to confirm, ' +
          'or escalate, which reopens it at the next level), null once Resolved or Withdrawn.',
      }),
    ),
  },
  { title: 'ComplaintDetail' },
);

export const MessageSchema = Type.Object(
  {
    id: Type.String(),
    author_kind: StringEnum(['consumer', 'staff'] as const),
    author: Type.String(),
    body: Type.String(),
    directed_to: Nullable(Type.String()),
    created_at: DateTime(),
  },
  { title: 'Message' },
);

export const EvidenceSchema = Type.Object(
  {
    id: Type.String(),
    file_name: Type.String(),
    content_type: Type.String(),
    size: Type.Integer({ description: 'Bytes' }),
    sha256: Type.String({ description: 'Hex; also the ETag of the content' }),
    created_at: DateTime(),
  },
  { title: 'Evidence' },
);

export const SettlementOfferSchema = Type.Object(
  {
    id: Type.String(),
    amount: Type.Number(),
    currency: Type.String(),
    terms: Type.String(),
    status: StringEnum(['open', 'accepted', 'rejected', 'countered'] as const),
    counter_amount: Nullable(Type.Number()),
    created_by: Type.String(),
    created_at: DateTime(),
    responded_at: Nullable(DateTime()),
  },
  { title: 'SettlementOffer' },
);

export const FollowupSchema = Type.Object(
  {
    id: Type.String(),
    question: Type.String(),
    answer: Nullable(Type.String()),
    asked_by: Type.String(),
    created_at: DateTime(),
    answered_at: Nullable(DateTime()),
  },
  { title: 'Followup' },
);

export const ActionDraftSchema = Type.Object(
  {
    action_id: Type.String(),
    draft_id: Type.String(),
    kind: Type.String(),
    body: Type.String(),
    status: StringEnum(['drafted', 'filed'] as const),
    respond_by: DateTime(),
    created_at: DateTime(),
    filed_at: Nullable(DateTime()),
  },
  { title: 'ActionDraft' },
);

export const SocialDraftSchema = Type.Object(
  {
    draft_id: Type.String(),
    platform: Type.String(),
    body: Type.String(),
    status: StringEnum(['drafted', 'posted'] as const),
    created_at: DateTime(),
    posted_at: Nullable(DateTime()),
  },
  { title: 'SocialDraft' },
);

/** An internal note: staff only, never shown to the consumer or carried by an event. */
export const NoteSchema = Type.Object(
  {
    id: Type.String(),
    author: Type.String({ description: 'The staff email, or api-key:{name} for a key' }),
    body: Type.String(),
    created_at: DateTime(),
  },
  { title: 'Note' },
);

/** An event of the complaint exactly as webhooks carry it. */
export const ComplaintEventSchema = Type.Object(
  {
    id: Type.String(),
    event: Type.String(),
    timestamp: DateTime(),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { title: 'ComplaintEvent' },
);

/** What the consumer's steps without a record of their own answer. */
export const DelegationSchema = Type.Object({ escalatr_id: Type.String(), delegated_to: Type.String() });
export const SettlementResponseSchema = Type.Object({
  escalatr_id: Type.String(),
  offer_id: Type.String(),
  action: StringEnum(['accept', 'reject', 'counter'] as const),
});
export const FiledActionSchema = Type.Object({
  escalatr_id: Type.String(),
  draft_id: Type.String(),
  status: Type.Literal('filed'),
});
export const PostedSocialSchema = Type.Object({
  escalatr_id: Type.String(),
  draft_id: Type.String(),
  status: Type.Literal('posted'),
});

/** What the steps that create a record answer: the new record's id (and what the server computed of it). */
export const MessagePostedSchema = Type.Object({ message_id: Type.String() });
export const EvidenceUploadedSchema = Type.Object({
  evidence_id: Type.String(),
  size: Type.Integer({ description: 'Bytes stored' }),
  sha256: Type.String(),
});
export const SettlementOfferedSchema = Type.Object({ offer_id: Type.String() });
export const FollowupAskedSchema = Type.Object({ followup_id: Type.String() });
export const FollowupAnsweredSchema = Type.Object({
  all_answered: Type.Boolean({ description: 'Whether every follow-up question of the complaint is now answered' }),
});
export const ActionDraftedSchema = Type.Object({ action_id: Type.String(), draft_id: Type.String() });
export const SocialDraftedSchema = Type.Object({ draft_id: Type.String() });

type _ShapeChecks = [
  Expect<SameKeys<ComplaintSummary, Static<typeof ComplaintSummarySchema>>>,
  Expect<SameKeys<ComplaintDetail, Static<typeof ComplaintDetailSchema>>>,
  Expect<SameKeys<MessageView, Static<typeof MessageSchema>>>,
  Expect<SameKeys<EvidenceView, Static<typeof EvidenceSchema>>>,
  Expect<SameKeys<SettlementOfferView, Static<typeof SettlementOfferSchema>>>,
  Expect<SameKeys<FollowupView, Static<typeof FollowupSchema>>>,
  Expect<SameKeys<ActionDraftView, Static<typeof ActionDraftSchema>>>,
  Expect<SameKeys<SocialDraftView, Static<typeof SocialDraftSchema>>>,
  Expect<SameKeys<ComplaintEventView, Static<typeof ComplaintEventSchema>>>,
  Expect<SameKeys<NoteView, Static<typeof NoteSchema>>>,
];
