import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import {
  endConsumerSession,
  findConsumerSession,
  issueSignInLink,
  redeemSignInLink,
  SIGN_IN_LINK_TTL_MS,
  type ConsumerSession,
} from '../../domain/consumer-sign-in.js';
import { AppError } from '../../errors.js';
import { CONSUMER_SESSION_COOKIE } from '../auth.js';
import type { ApiApp, RouteDeps } from '../deps.js';
import { DateTime, Nullable, ok, Ok } from '../schemas.js';
import { sendSignInLink } from './sign-in-mail.js';
import { iso } from '../../clock.js';

const LinkBody = Type.Object({ email: Type.String({ minLength: 1, maxLength: 320 }) }, { additionalProperties: false });
const RedeemBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
const LinkSentSchema = Type.Object(
  {
    sent: Type.Literal(true),
    expires_in_seconds: Type.Integer({ description: 'How long the link works, once' }),
  },
  { title: 'SignInLinkSent' },
);
const ConsumerSessionSchema = Type.Object(
  {
    consumer: Type.Object({ email: Type.String(), name: Nullable(Type.String()) }),
    csrf_token: Type.String({ description: 'Send as X-CSRF-Token on every write to the Consumer API' }),
    expires_at: DateTime(),
  },
  { title: 'ConsumerSession' },
);
const SignedOutSchema = Type.Object({ signed_out: Type.Literal(true) });

function cookieOptions(config: Config) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'lax' as const,
    // Over plain http a Secure cookie would never come back, so it is set only when the public URL is https.
    secure: config.publicUrl.startsWith('https://'),
  };
}

const view = (s: ConsumerSession) => ({
  consumer: { email: s.consumer.email, name: s.consumer.name },
  csrf_token: s.csrfToken,
  expires_at: iso(s.expiresAt),
});

/**
 * The consumer portal's sign-in: a one-time link by mail, then a session cookie (http-only, SameSite=Lax) that the
 * Consumer API accepts like a consumer token, its writes carrying the CSRF token. Following a link is a POST from
 * the portal page rather than the GET of the mailed URL, so a mail scanner that fetches links cannot use one up.
 */
export function consumerSessionRoutes({ ctx, config }: RouteDeps) {
  return async (app: ApiApp) => {
    const db = ctx.store.db;
    const tags = ['Consumer portal session'];
    const ttlMinutes = SIGN_IN_LINK_TTL_MS / 60_000;
    const current = (request: FastifyRequest) => {
      const cookie = request.cookies?.[CONSUMER_SESSION_COOKIE];
      return cookie ? findConsumerSession(db, cookie, ctx.clock.now()) : Promise.resolve(null);
    };

    app.post(
      '/link',
      {
        onRequest: async (request) => app.anonymousLimit.spend(request),
        config: {
          errors: { 429: 'rate_limited: too many links asked for this email or from this address within the hour' },
        },
        schema: {
          tags,
          summary: 'Mail a one-time sign-in link',
          description:
            `Answers 202 for any well-formed address, whether or not a consumer has it: the link, good once for ` +
            `${ttlMinutes} minutes, opens the portal and creates the consumer on first use.`,
          body: LinkBody,
          response: { 202: Ok(LinkSentSchema) },
        },
      },
      async (request, reply) => {
        const link = await issueSignInLink(ctx, { email: request.body.email, clientAddress: request.ip });
        try {
          await sendSignInLink(config, request.log, link.email, link.token, ttlMinutes);
        } catch (err) {
          request.log.error({ err }, 'the sign-in link could not be mailed');
          throw new AppError('unavailable', 'The sign-in mail could not be sent; try again in a few minutes');
        }
        return reply.status(202).send(ok({ sent: true as const, expires_in_seconds: SIGN_IN_LINK_TTL_MS / 1000 }));
      },
    );

    app.post(
      '/redeem',
      {
        onRequest: async (request) => app.anonymousLimit.spend(request),
        config: { errors: { 410: 'sign_in_link_invalid: unknown, already used or expired (error.details.reason)' } },
        schema: {
          tags,
          summary: 'Follow a sign-in link',
          description: 'Uses the link up and sets the portal session cookie.',
          body: RedeemBody,
          response: { 200: Ok(ConsumerSessionSchema) },
        },
      },
      async (request, reply: FastifyReply) => {
        const session = await redeemSignInLink(ctx, request.body.token);
        reply.setCookie(CONSUMER_SESSION_COOKIE, session.sessionToken, {
          ...cookieOptions(config),
          maxAge: Math.floor((session.expiresAt - ctx.clock.now()) / 1000),
        });
        return ok(view(session));
      },
    );

    app.get(
      '/',
      {
        config: { errors: { 401: 'unauthorized: not signed in to the portal' } },
        schema: { tags, summary: 'The current portal session', response: { 200: Ok(ConsumerSessionSchema) } },
      },
      async (request) => {
        const session = await current(request);
        if (!session) throw new AppError('unauthorized', 'Not signed in');
        return ok(view(session));
      },
    );

    app.post(
      '/logout',
      {
        config: { errors: { 403: 'csrf_failed: a signed-in session without its X-CSRF-Token' } },
        schema: { tags, summary: 'Sign out of the portal', response: { 200: Ok(SignedOutSchema) } },
      },
      async (request, reply) => {
        const cookie = request.cookies?.[CONSUMER_SESSION_COOKIE];
        const session = await current(request);
        if (cookie && session) {
          // Without this check any site could sign a consumer out with a cross-site form post.
          if (request.headers['x-csrf-token'] !== session.csrfToken) throw new AppError('csrf_failed');
          await endConsumerSession(db, cookie);
        }
        reply.clearCookie(CONSUMER_SESSION_COOKIE, cookieOptions(config));
        return ok({ signed_out: true as const });
      },
    );
  };
}
