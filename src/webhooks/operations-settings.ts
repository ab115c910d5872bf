import { transact, type DomainContext } from '../domain/context.js';
import { AppError } from '../errors.js';
import { validateWebhookUrl } from './endpoints.js';

/**
 * Where a company's operational alerts go besides its feed and its subscribed endpoints: email to its owners and
 * admins, and/or a Slack incoming webhook. The Slack URL is its own credential, so it is stored sealed and shown with
 * its last path segment masked.
 */

export interface OperationsSettings {
  email: boolean;
  /** The owners' and admins' addresses the email goes to (read again when each alert is sent). */
  email_recipients: string[];
  slack_url: string | null;
}

export interface OperationsSettingsInput {
  email?: boolean;
  /** A new URL replaces the stored one, null removes it; left out, the stored one is kept. */
  slack_url?: string | null;
}

function maskSlackUrl(url: string): string {
  try {
    const u = new URL(url);
    const parts = u.pathname.split('/');
    if (parts.length > 1 && parts[parts.length - 1]) parts[parts.length - 1] = '********';
    return `${u.origin}${parts.join('/')}`;
  } catch {
    return '********';
  }
}

/** The owners' and admins' email addresses, oldest account first. */
export async function operationsRecipients(ctx: DomainContext, companyId: string): Promise<string[]> {
  const users = await ctx.store.db
    .selectFrom('users')
    .select('email')
    .where('company_id', '=', companyId)
    .where('role', 'in', ['owner', 'admin'])
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return users.map((u) => u.email);
}

/** The company's Slack webhook for operational alerts, opened; null when none is set. */
export async function operationsSlackUrl(ctx: DomainContext, companyId: string): Promise<string | null> {
  const row = await ctx.store.db
    .selectFrom('company_operations')
    .select('slack_url_enc')
    .where('company_id', '=', companyId)
    .executeTakeFirst();
  return row?.slack_url_enc ? ctx.box.open(row.slack_url_enc) : null;
}

/** Whether the company still wants operational alerts by email. */
export async function operationsEmailOn(ctx: DomainContext, companyId: string): Promise<boolean> {
  const row = await ctx.store.db
    .selectFrom('company_operations')
    .select('email')
    .where('company_id', '=', companyId)
    .executeTakeFirst();
  return row?.email === 1;
}

export async function getOperationsSettings(ctx: DomainContext, companyId: string): Promise<OperationsSettings> {
  const [row, recipients] = await Promise.all([
    ctx.store.db
      .selectFrom('company_operations')
      .select(['email', 'slack_url_enc'])
      .where('company_id', '=', companyId)
      .executeTakeFirst(),
    operationsRecipients(ctx, companyId),
  ]);
  return {
    email: row?.email === 1,
    email_recipients: recipients,
    slack_url: row?.slack_url_enc ? maskSlackUrl(ctx.box.open(row.slack_url_enc)) : null,
  };
}

/**
 * Changes the settings. The Slack URL passes the same checks as an endpoint URL (https, no credentials, a literal
 * address must be one webhooks may reach; a host name is checked again at every send).
 */
export async function setOperationsSettings(
  ctx: DomainContext,
  companyId: string,
  input: OperationsSettingsInput,
): Promise<OperationsSettings> {
  let slackEnc: string | null | undefined;
  if (input.slack_url === null) slackEnc = null;
  else if (input.slack_url !== undefined) {
    let url: string;
    try {
      url = validateWebhookUrl(input.slack_url, {
        allowHttp: ctx.config.allowHttpWebhooks,
        allowCidrs: ctx.config.webhookAllowCidrs,
      });
    } catch (err) {
      if (err instanceof AppError)
        throw new AppError('invalid_url', `slack_url: ${err.message}`, { field: 'slack_url' });
      throw err;
    }
    slackEnc = ctx.box.seal(url);
  }
  await transact(ctx, async ({ tx, now }) => {
    const current = await tx
      .selectFrom('company_operations')
      .select(['email', 'slack_url_enc'])
      .where('company_id', '=', companyId)
      .executeTakeFirst();
    const next = {
      email: input.email === undefined ? (current?.email ?? 0) : input.email ? 1 : 0,
      slack_url_enc: slackEnc === undefined ? (current?.slack_url_enc ?? null) : slackEnc,
      updated_at: now,
    };
    if (current) await tx.updateTable('company_operations').set(next).where('company_id', '=', companyId).execute();
    else
      await tx
        .insertInto('company_operations')
        .values({ company_id: companyId, ...next })
        .execute();
  });
  return getOperationsSettings(ctx, companyId);
}
