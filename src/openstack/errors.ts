import { HTTPError, RequestError } from 'got';

/** The message an OpenStack service put in an error body, whatever the service's shape. */
export function apiMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    const text = body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
    return text || undefined;
  }
  if (body === null || typeof body !== 'object') return undefined;
  const record = body as Record<string, unknown>;
  // Glance JSON: {message, code, title}; Keystone/OVH: {error: {message}}; Nova/Cinder: {badRequest: {message}}.
  if (typeof record.message === 'string') return record.message.replace(/<br \/>/g, ' ').replace(/\s+/g, ' ').trim();
  for (const value of Object.values(record)) {
    if (value && typeof value === 'object' && typeof (value as Record<string, unknown>).message === 'string') {
      return String((value as Record<string, unknown>).message).trim();
    }
  }
  return undefined;
}

/** The HTTP status of a failed request, or undefined when no response came back. */
export function statusOf(error: unknown): number | undefined {
  return error instanceof HTTPError ? error.response.statusCode : undefined;
}

/** The network error code (ECONNRESET, ETIMEDOUT, …) of a request that got no response. */
export function codeOf(error: unknown): string | undefined {
  return error instanceof RequestError && !(error instanceof HTTPError) ? error.code : undefined;
}

/** A failure the user can act on: the message says what happened and what to do. */
export class ActionError extends Error {
  override name = 'ActionError';
}

/** The cloud has no such resource (a server of that name or ID). */
export class NotFoundError extends ActionError {
  override name = 'NotFoundError';
}

/** A redirect or a link to a host other than the endpoint's: never followed with credentials. */
export class CrossHostError extends ActionError {
  override name = 'CrossHostError';
}
