import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERRORS, routeNotFound, type ErrorCode } from '../errors.js';
import type { DialectProfile } from '../storage/dialects.js';
import type { StoreAvailability } from '../storage/availability.js';
import type { ErrorBody } from './schemas.js';

/** Names the parameter a schema error is about: `/limit` → limit, a missing property → its name. */
function paramOf(v: { instancePath?: string; params?: Record<string, unknown> }): string {
  const missing = v.params?.missingProperty;
  if (typeof missing === 'string')
    return [v.instancePath?.replace(/^\//, '').replace(/\//g, '.'), missing].filter(Boolean).join('.');
  const extra = v.params?.additionalProperty;
  if (typeof extra === 'string') return extra;
  return (v.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
}

function fromFastify(err: FastifyError, profile: DialectProfile, availability: StoreAvailability): AppError {
  if (err instanceof AppError) return err;
  if (err.validation) {
    const first = err.validation[0] as { instancePath?: string; params?: Record<string, unknown>; message?: string };
    const param = paramOf(first);
    const where = err.validationContext;
    if (where === 'querystring') {
      return new AppError(
        'invalid_query',
        `invalid query parameter ${param || '(unknown)'}: ${first.message ?? 'invalid'}`,
        { parameter: param },
      );
    }
    if (where === 'params') return new AppError('not_found', 'Not found');
    return new AppError('validation_failed', `${param ? `${param}: ` : ''}${first.message ?? 'invalid'}`, {
      field: param,
      in: where,
    });
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type', 'Send the body as application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('invalid_json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('invalid_json', 'The body is empty but Content-Type is application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('invalid_request', 'Content-Length does not match the body');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      // Longer than any id we issue, so it names nothing: the same answer as any unknown id.
      return new AppError('not_found', 'Not found');
    case 'FST_ERR_BAD_URL':
      return new AppError('invalid_request', 'The URL is malformed (bad percent-encoding)');
  }
  if (err.statusCode === 400 && (err instanceof SyntaxError || /JSON/i.test(err.name)))
    return new AppError('invalid_json');
  if (err.statusCode === 429) return new AppError('rate_limited', err.message);
  if (availability.noteError(err)) return new AppError('unavailable', 'The store is not available; try again shortly');
  if (profile.isInvalidValue(err))
    return new AppError(
      'invalid_request',
      'A value in the request cannot be stored (for example text with a NUL character)',
    );
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    const code =
      (Object.keys(ERRORS) as ErrorCode[]).find((k) => ERRORS[k].status === err.statusCode) ?? 'invalid_request';
    return new AppError(code, err.message);
  }
  return new AppError('internal');
}

/**
 * Fastify answers a malformed or over-long path parameter before routing, with its own body; the app passes this
 * as `frameworkErrors` so those answers carry the envelope too.
 */
export function frameworkErrorResponder(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const appError =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new AppError('not_found', 'Not found')
      : new AppError('invalid_request', 'The URL is malformed (bad percent-encoding)');
  const body: ErrorBody = { success: false, error: { code: appError.code, message: appError.message } };
  reply.status(appError.status).send(body);
}

/**
 * A request the HTTP parser refused before Fastify saw it (headers or URL past the size the server reads, a request
 * that did not arrive in time, bytes that are not HTTP) is answered on the socket itself, in the same envelope as
 * every other error, and the connection closed. Passed to Fastify as `clientErrorHandler`.
 */
export function clientErrorResponder(err: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has no one left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const appError =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new AppError('headers_too_large')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new AppError('request_timeout')
        : new AppError('invalid_request', 'The request is not valid HTTP');
  const body = JSON.stringify({
    success: false,
    error: { code: appError.code, message: appError.message },
  } satisfies ErrorBody);
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${appError.status} ${STATUS_CODES[appError.status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  socket.destroy(err);
}

/**
 * The one place errors become responses: `{ success: false, error: { code, message } }` with the registry's status.
 * Store-unavailable failures are also reported to `availability`, which /readyz reads.
 */
export function installErrorHandler(
  app: FastifyInstance,
  profile: DialectProfile,
  availability: StoreAvailability,
): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const appError = fromFastify(err, profile, availability);
    if (appError.status >= 500) request.log.error({ err }, 'request failed');
    if (appError.code === 'unavailable') reply.header('Retry-After', '5');
    // Answered before its body arrived (a limit refused it at its headers): keeping the connection would mean waiting
    // for, and throwing away, the rest of the body, however slowly it comes. The connection ends with the answer.
    // A refusal for a limit ends the connection too: kept open, refused requests would hold connections for 72 s each.
    if (!request.raw.complete || appError.status === 429) reply.header('Connection', 'close');
    if (appError.status === 429 && typeof appError.details?.retry_after === 'number')
      reply.header('Retry-After', String(appError.details.retry_after));
    if (err.statusCode === 429 && (err as FastifyError & { headers?: Record<string, string> }).headers) {
      for (const [k, v] of Object.entries((err as FastifyError & { headers: Record<string, string> }).headers))
        reply.header(k, v);
    }
    const body: ErrorBody = { success: false, error: { code: appError.code, message: appError.message } };
    if (appError.details) body.error.details = appError.details;
    return reply.status(appError.status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const { code, message } = routeNotFound(request.method, request.url);
    const body: ErrorBody = { success: false, error: { code, message } };
    return reply.status(404).send(body);
  });
}
