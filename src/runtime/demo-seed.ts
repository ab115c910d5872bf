import { randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import { createApiKey } from '../domain/api-keys.js';
import { createCompany, getCompanyByCode, type Company } from '../domain/companies.js';
import { claim, complete, escalate, postMessage, resolve, withdraw, type Actor } from '../domain/complaint-steps.js';
import { fileComplaint, type FileComplaintInput } from '../domain/complaints.js';
import { createConsumerWithToken } from '../domain/consumers.js';
import type { DomainContext } from '../domain/context.js';
import { createUser } from '../domain/users.js';

const DEMO_COMPANY = { code: 'VOLT', name: 'Volt Electronics', plan: 'professional' } as const;
const DEMO_OWNER_EMAIL = 'owner@volt.example';
const DEMO_CONSUMER = { email: 'alice@consumer.example', name: 'Alice Demo' };

/** The credentials `demo --json` prints, field for field. */
interface DemoCredentials {
  company: { code: string; name: string; plan: string };
  /** password is null when the demo existed already: only a hash is stored, so it cannot be shown again. */
  owner: { email: string; password: string | null };
  consumer: { email: string; token: string };
  /** null only if VOLT was moved to a plan without API access. */
  api_key: string | null;
}

export interface DemoResult {
  /** false when VOLT existed already: nothing was created but a new consumer token and API key. */
  created: boolean;
  credentials: DemoCredentials;
}

/**
 * Creates the demo company VOLT with an owner (random password), a consumer, an admin API key and sample complaints.
 * When VOLT exists already it creates nothing but a fresh consumer token and API key, so the output stays usable;
 * the owner's password cannot be recovered (only a hash is stored) and is reported as null.
 */
export async function seedDemo(ctx: DomainContext): Promise<DemoResult> {
  let company: Company;
  try {
    company = await createCompany(ctx, DEMO_COMPANY);
  } catch (err) {
    // Made by an earlier run, or a moment ago by another process on the same PostgreSQL.
    if (err instanceof AppError && err.code === 'already_exists') {
      return {
        created: false,
        credentials: await reissue(ctx, await getCompanyByCode(ctx.store.db, DEMO_COMPANY.code)),
      };
    }
    throw err;
  }
  const password = randomBytes(12).toString('base64url');
  const owner = await createUser(ctx, {
    companyId: company.id,
    email: DEMO_OWNER_EMAIL,
    password,
    role: 'owner',
    name: 'Demo Owner',
  });
  const { consumer, token } = await createConsumerWithToken(ctx, DEMO_CONSUMER);
  const { key } = await createApiKey(ctx, { companyId: company.id, name: 'demo', scope: 'admin', createdBy: owner.id });
  await fileSampleComplaints(ctx, {
    consumer: { kind: 'consumer', consumerId: consumer.id, email: consumer.email },
    staff: { kind: 'staff', companyId: company.id, label: owner.email },
  });
  return {
    created: true,
    credentials: {
      company: { code: company.code, name: company.name, plan: company.plan },
      owner: { email: owner.email, password },
      consumer: { email: consumer.email, token },
      api_key: key,
    },
  };
}

/** The friendly text of the demo credentials; `serve` prints the same block on a first start. */
export function demoText(result: DemoResult, baseUrl: string): string[] {
  const c = result.credentials;
  const lines = result.created
    ? [`Created the demo company ${c.company.code} (${c.company.name}, ${c.company.plan} plan) with sample complaints.`]
    : [`The demo company ${c.company.code} exists already; issued a new consumer token and API key.`];
  lines.push(
    `  Dashboard        ${baseUrl}/`,
    `  Owner login      ${c.owner.email} / ${c.owner.password ?? '(unchanged: shown only when the demo was created)'}`,
    `  Consumer token   ${c.consumer.token}   (${c.consumer.email}; Authorization: Bearer … on /api/consumer/v1)`,
    `  Admin API key    ${c.api_key ?? '(none: the company is not on a plan with API access)'}   (Authorization: Bearer … on /api/v1)`,
    'These secrets are shown only once.',
  );
  return lines;
}

async function reissue(ctx: DomainContext, company: Company): Promise<DemoCredentials> {
  const { consumer, token } = await createConsumerWithToken(ctx, DEMO_CONSUMER);
  let apiKey: string | null = null;
  try {
    apiKey = (await createApiKey(ctx, { companyId: company.id, name: 'demo', scope: 'admin' })).key;
  } catch (err) {
    if (!(err instanceof AppError && err.code === 'plan_required')) throw err;
  }
  return {
    company: { code: company.code, name: company.name, plan: company.plan },
    owner: { email: DEMO_OWNER_EMAIL, password: null },
    consumer: { email: consumer.email, token },
    api_key: apiKey,
  };
}

type ConsumerActor = Extract<Actor, { kind: 'consumer' }>;
type StaffActor = Extract<Actor, { kind: 'staff' }>;

/** A handful of complaints in different states, made through the same steps the API uses (so they have events). */
async function fileSampleComplaints(
  ctx: DomainContext,
  who: { consumer: ConsumerActor; staff: StaffActor },
): Promise<void> {
  const file = (complaint: Omit<FileComplaintInput, 'consumerId' | 'company_code'>) =>
    fileComplaint(ctx, { ...complaint, consumerId: who.consumer.consumerId, company_code: DEMO_COMPANY.code });

  // Open at L1: waiting for a first response.
  await file({
    complaint_category: 'Consumer Durables',
    title: 'Refrigerator stopped cooling after three weeks',
    description: 'The fridge bought on the 2nd stopped cooling; the service centre has not called back.',
    priority: 'high',
    amount_involved: 42000,
    currency: 'INR',
  });

  // Escalated to L3 by the consumer, claimed by staff, with a chat message.
  const charged = await file({
    complaint_category: 'Banking & Payments',
    title: 'Charged twice for one order',
    description: 'My card was charged twice for order 88121 and support keeps closing the ticket.',
    priority: 'critical',
    amount_involved: 129.99,
    currency: 'USD',
  });
  await escalate(ctx, who.consumer, charged.escalatr_id);
  await escalate(ctx, who.consumer, charged.escalatr_id);
  await claim(ctx, who.staff, charged.escalatr_id);
  await postMessage(ctx, who.consumer, charged.escalatr_id, { body: 'Attaching the bank statement tomorrow.' });

  // Worked by staff and resolved by the consumer with a refund.
  const refund = await file({
    complaint_category: 'Travel',
    title: 'Cancelled flight, refund not received',
    description: 'Flight cancelled by the airline six weeks ago; the refund has not arrived.',
    priority: 'medium',
    amount_involved: 18500,
    currency: 'INR',
  });
  await claim(ctx, who.staff, refund.escalatr_id);
  await complete(ctx, who.staff, refund.escalatr_id, 'Refund re-issued to the original card.');
  await resolve(ctx, who.consumer, refund.escalatr_id, { resolution_type: 'refund', amount_recovered: 18500 });

  // Withdrawn by the consumer.
  const parcel = await file({
    complaint_category: 'E-commerce',
    title: 'Wrong size delivered',
    description: 'Ordered a medium, received a small.',
    priority: 'low',
    amount_involved: 2499,
    currency: 'INR',
  });
  await withdraw(ctx, who.consumer, parcel.escalatr_id, 'resolved_directly');
}
