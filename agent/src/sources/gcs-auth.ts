/**
 * A GCS access token from a service-account key: the OAuth 2.0 JWT-bearer grant (RFC 7523) done
 * by google-auth-library's JWT client, so the assertion is built and signed by Google's own code.
 * The key is checked first, so a broken Secret gets a precise message naming its file and field,
 * never the parser's or OpenSSL's text (which could quote the key). The token request runs over
 * the guarded connection pool, once, bounded by the agent's timeouts; the operator retries.
 */
import { createPrivateKey } from 'node:crypto';
import { CREDENTIAL_FILES } from '@tessera/contract';
import { JWT } from 'google-auth-library';
import { z } from 'zod';
import { AgentError, AgentErrorCode } from '../errors.js';
import { guardedAgents } from './guarded-http.js';
import type { PullTarget } from './transfer.js';

/** Read-only access to objects is all the agent needs. */
export const GCS_READ_SCOPE = 'https://www.googleapis.com/auth/devstorage.read_only';

/** The fields of a service-account key file the token grant uses. */
const serviceAccountKey = z.object({
  type: z.literal('service_account', { error: "must be 'service_account'" }),
  client_email: z.email({ error: 'must be the service account e-mail address' }),
  private_key: z.string({ error: 'must be a PEM private key' }),
  private_key_id: z.string().optional(),
});

/** A validated service-account key. */
export interface ServiceAccountKey {
  readonly email: string;
  readonly privateKey: string;
  readonly keyId?: string;
}

function badKey(why: string): AgentError {
  return new AgentError(
    AgentErrorCode.ACCESS_DENIED,
    `the storage Secret key '${CREDENTIAL_FILES.gcsServiceAccount}' is not a usable ` +
      `service-account key: ${why}`,
  );
}

/** Parses and checks a key file's text; throws a message that names the field, never a value. */
export function parseServiceAccountKey(text: string): ServiceAccountKey {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw badKey('it is not valid JSON');
  }
  const parsed = serviceAccountKey.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') ?? '';
    if (field === '') throw badKey('it is not a JSON object');
    const present = typeof json === 'object' && json !== null && field in json;
    throw badKey(
      `the field '${field}' ${present ? (issue?.message ?? 'is invalid') : 'is missing'}`,
    );
  }
  try {
    createPrivateKey(parsed.data.private_key);
  } catch {
    throw badKey("the field 'private_key' is not a PEM private key");
  }
  return {
    email: parsed.data.client_email,
    privateKey: parsed.data.private_key,
    ...(parsed.data.private_key_id === undefined ? {} : { keyId: parsed.data.private_key_id }),
  };
}

/**
 * Exchanges the key for an access token; failures name the service account, never the key.
 * `fetchImplementation` replaces the HTTP client (unit tests); the agent never passes one.
 */
export async function accessToken(
  key: ServiceAccountKey,
  target: PullTarget,
  fetchImplementation?: typeof fetch,
): Promise<string> {
  const client = new JWT({
    email: key.email,
    key: key.privateKey,
    ...(key.keyId === undefined ? {} : { keyId: key.keyId }),
    scopes: [GCS_READ_SCOPE],
    transporterOptions: {
      agent: guardedAgents.https,
      timeout: target.connectTimeoutMs + target.stallTimeoutMs,
      // One attempt: the token request sets its own retryConfig (POST retried 3 times on network
      // errors), which `retry: false` does not override; `retry: 0` in the merged config does.
      retry: false,
      retryConfig: { retry: 0 },
      ...(fetchImplementation === undefined ? {} : { fetchImplementation }),
    },
  });
  try {
    const { token } = await client.getAccessToken();
    if (typeof token !== 'string' || token === '') throw new Error('no access_token');
    return token;
  } catch (error) {
    throw tokenError(error, key.email);
  }
}

function tokenError(error: unknown, email: string): AgentError {
  if (error instanceof AgentError) return error;
  const e = error as { status?: unknown; response?: { status?: unknown }; code?: unknown };
  const status = typeof e.status === 'number' ? e.status : e.response?.status;
  const who = `service account '${email}'`;
  if (status === 400 || status === 401 || status === 403) {
    return new AgentError(
      AgentErrorCode.ACCESS_DENIED,
      `Google's token endpoint refused the key of ${who} (HTTP ${status}): check ` +
        `'${CREDENTIAL_FILES.gcsServiceAccount}' in the storage Secret`,
    );
  }
  const detail =
    typeof status === 'number'
      ? `HTTP ${status}`
      : typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code)
        ? e.code
        : 'no answer';
  return new AgentError(
    AgentErrorCode.PULL_FAILED,
    `cannot obtain an access token for ${who} from Google's token endpoint (${detail})`,
  );
}
