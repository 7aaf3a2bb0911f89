import { createHash } from 'node:crypto';
import type { Finding } from '../errors.js';
import { Webhook } from 'standardwebhooks';
import { EVENT_TYPES, type EventEndpointConfig, type EventType, type SourcePosition } from '../domain.js';

/** An endpoint ready to deliver to: its secrets read from the environment. */
export interface EventEndpoint {
  /** Stable while the clinic and URL stay the same (deliveries and the disabled flag refer to it). */
  id: string;
  clinicId: string;
  url: string;
  types: EventType[] | null;
  /** The current secret first, then the previous one during a rotation. */
  secrets: string[];
}

const ENV_NAME = '^[A-Z_][A-Z0-9_]*$';

/** JSON Schema of one `events:` endpoint of a clinic (a URL listed twice is checked in eventEndpointsOf). */
export const EVENT_ENDPOINT_SCHEMA = {
  type: 'object',
  required: ['url', 'secretEnv'],
  additionalProperties: false,
  message: { type: 'expected a map with url and secretEnv', additionalProperties: 'unknown field "{name}" (url, secretEnv, types, allowInsecure)' },
  properties: {
    url: { type: 'string', format: 'http-url', message: 'required http(s) URL without credentials' },
    secretEnv: { type: 'string', pattern: ENV_NAME, message: 'required environment variable name holding a whsec_ secret' },
    types: {
      type: 'array',
      minItems: 1,
      message: 'expected a non-empty list of event types',
      items: { enum: EVENT_TYPES, message: `unknown event type "{value}" (${EVENT_TYPES.join(', ')})` },
    },
    allowInsecure: { type: 'boolean', message: 'expected true or false' },
  },
} as const;

/**
 * A clinic's `events:` list (checked against EVENT_ENDPOINT_SCHEMA) as endpoint settings; a URL
 * listed twice is reported through `fail`.
 * @param raw - the `events` value
 * @param fail - records a problem with the i-th endpoint's url
 * @param position - the i-th endpoint's url's file position
 */
export function eventEndpointsOf(raw: unknown, fail: (index: number, message: string) => void, position: (index: number) => SourcePosition): EventEndpointConfig[] {
  const out: EventEndpointConfig[] = [];
  const urls = new Set<string>();
  (Array.isArray(raw) ? (raw as unknown[]) : []).forEach((item, index) => {
    const e = (item !== null && typeof item === 'object' ? item : {}) as { url?: unknown; secretEnv?: unknown; types?: unknown; allowInsecure?: unknown };
    let url: URL;
    try {
      url = new URL(String(e.url));
    } catch {
      return;
    }
    if (urls.has(url.href)) {
      fail(index, 'listed twice for this clinic');
      return;
    }
    urls.add(url.href);
    const types = Array.isArray(e.types) ? [...new Set(e.types.filter(isEventType))] : null;
    out.push({ url: url.href, secretEnv: String(e.secretEnv), types, allowInsecure: e.allowInsecure === true, at: position(index) });
  });
  return out;
}

/** A clinic's endpoints, as clinics carry them. */
export interface ClinicEvents {
  id: string;
  events?: readonly EventEndpointConfig[];
}

/**
 * The checks that need the environment, reported at start with the endpoint's
 * file:line:col: a missing or malformed secret (every environment: nothing can be
 * signed without one), and in production an `http:` URL without `allowInsecure: true`.
 * @param clinics - the parsed clinics
 * @param env - where the secrets are
 * @param production - NODE_ENV=production
 */
export function checkEventEndpoints(clinics: readonly ClinicEvents[], env: Record<string, string | undefined>, production: boolean): Finding[] {
  const findings: Finding[] = [];
  const add = (at: SourcePosition, message: string): void => {
    findings.push({ ...at, message, severity: 'error' });
  };
  for (const clinic of clinics) {
    for (const endpoint of clinic.events ?? []) {
      const current = env[endpoint.secretEnv];
      if (current === undefined || current === '') {
        add(endpoint.at, `clinic ${clinic.id}: events endpoint secret ${endpoint.secretEnv} is not set`);
      } else if (!isValidSecret(current)) {
        add(endpoint.at, `clinic ${clinic.id}: ${endpoint.secretEnv} must be whsec_ followed by base64`);
      }
      const previous = env[`${endpoint.secretEnv}_PREVIOUS`];
      if (previous !== undefined && previous !== '' && !isValidSecret(previous)) {
        add(endpoint.at, `clinic ${clinic.id}: ${endpoint.secretEnv}_PREVIOUS must be whsec_ followed by base64`);
      }
      if (production && endpoint.url.startsWith('http:') && !endpoint.allowInsecure) {
        add(endpoint.at, `clinic ${clinic.id}: events endpoint ${endpoint.url} is http: (refused in production unless allowInsecure: true)`);
      }
    }
  }
  return findings;
}

/** The stable id of a clinic's endpoint. */
export function endpointId(clinicId: string, url: string): string {
  return `ep_${createHash('sha256').update(`${clinicId}\u0000${url}`).digest('hex').slice(0, 16)}`;
}

/**
 * The clinic's endpoints with their secrets; one whose current secret is missing or
 * malformed is left out (checkEventEndpoints refuses it at start).
 * @param clinic - a clinic and its `events`
 * @param env - where the secrets are
 */
export function resolveEndpoints(clinic: ClinicEvents, env: Record<string, string | undefined>): EventEndpoint[] {
  const out: EventEndpoint[] = [];
  for (const e of clinic.events ?? []) {
    const secrets = [env[e.secretEnv], env[`${e.secretEnv}_PREVIOUS`]].filter((s): s is string => s !== undefined && isValidSecret(s));
    // Left out: no current secret (not set, or malformed). An unset one must not pass as
    // `undefined === undefined`: an endpoint without a secret could sign nothing.
    if (secrets.length === 0 || secrets[0] !== env[e.secretEnv]) {
      continue;
    }
    out.push({ id: endpointId(clinic.id, e.url), clinicId: clinic.id, url: e.url, types: e.types, secrets });
  }
  return out;
}

/** True when the endpoint receives events of `type`. */
export function wants(endpoint: Pick<EventEndpoint, 'types'>, type: EventType): boolean {
  return endpoint.types === null || endpoint.types.includes(type);
}

/** True when `value` names one of EVENT_TYPES. */
export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value);
}

/** True when `secret` is `whsec_` followed by base64 the signing library accepts as a key. */
export function isValidSecret(secret: string): boolean {
  if (!/^whsec_[A-Za-z0-9+/]+=*$/.test(secret)) {
    return false;
  }
  try {
    new Webhook(secret).sign('msg_check', new Date(0), '');
    return true;
  } catch {
    return false;
  }
}
