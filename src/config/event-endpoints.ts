import { createHash } from 'node:crypto';
import { isMap, isSeq, type Node } from 'yaml';
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

const KNOWN_KEYS = new Set(['url', 'secretEnv', 'types', 'allowInsecure']);
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/**
 * Parses a clinic's `events:` list. Reports every problem through `at` (file:line:col)
 * and returns undefined when there was one.
 * @param node - the `events` value node
 * @param where - e.g. `clinics[0].events`
 * @param at - records a finding at a node
 * @param position - a node's file position
 */
export function parseEventEndpoints(
  node: Node,
  where: string,
  at: (node: Node | null | undefined, message: string) => void,
  position: (node: Node) => SourcePosition,
): EventEndpointConfig[] | undefined {
  if (!isSeq(node)) {
    at(node, `${where}: expected a list of endpoints (url, secretEnv, optional types)`);
    return undefined;
  }
  const out: EventEndpointConfig[] = [];
  let ok = true;
  const urls = new Set<string>();
  node.items.forEach((item, index) => {
    const here = `${where}[${index}]`;
    if (!isMap(item)) {
      at(item as Node, `${here}: expected a map with url and secretEnv`);
      ok = false;
      return;
    }
    const get = (key: string): Node | undefined => item.get(key, true) as Node | undefined;
    const value = (key: string): unknown => (get(key) as { toJSON?: () => unknown } | undefined)?.toJSON?.() ?? undefined;
    for (const pair of item.items) {
      const key = String((pair.key as { value?: unknown } | null)?.value ?? '');
      if (!KNOWN_KEYS.has(key)) {
        at(pair.key as Node, `${here}: unknown field "${key}" (url, secretEnv, types, allowInsecure)`);
        ok = false;
      }
    }
    const url = value('url');
    let parsed: URL | null;
    try {
      parsed = typeof url === 'string' ? new URL(url) : null;
    } catch {
      parsed = null;
    }
    if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.username || parsed.password) {
      at(get('url') ?? item, `${here}.url: required http(s) URL without credentials`);
      ok = false;
    } else if (urls.has(parsed.href)) {
      at(get('url'), `${here}.url: listed twice for this clinic`);
      ok = false;
    } else {
      urls.add(parsed.href);
    }
    const secretEnv = value('secretEnv');
    if (typeof secretEnv !== 'string' || !ENV_NAME.test(secretEnv)) {
      at(get('secretEnv') ?? item, `${here}.secretEnv: required environment variable name holding a whsec_ secret`);
      ok = false;
    }
    const typesNode = get('types');
    let types: EventType[] | null = null;
    if (typesNode !== undefined) {
      if (!isSeq(typesNode) || typesNode.items.length === 0) {
        at(typesNode, `${here}.types: expected a non-empty list of event types`);
        ok = false;
      } else {
        types = [];
        for (const t of typesNode.items) {
          const v = (t as { toJSON?: () => unknown }).toJSON?.();
          if (!isEventType(v)) {
            at(t as Node, `${here}.types: unknown event type "${String(v)}" (${EVENT_TYPES.join(', ')})`);
            ok = false;
          } else if (!types.includes(v)) {
            types.push(v);
          }
        }
      }
    }
    const allowInsecure = value('allowInsecure') ?? false;
    if (typeof allowInsecure !== 'boolean') {
      at(get('allowInsecure'), `${here}.allowInsecure: expected true or false`);
      ok = false;
    }
    if (ok && parsed) {
      out.push({ url: parsed.href, secretEnv: secretEnv as string, types, allowInsecure: allowInsecure as boolean, at: position(get('url') ?? item) });
    }
  });
  return ok ? out : undefined;
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
