import { expect } from 'chai';
import fc from 'fast-check';
import request from 'supertest';
import { closingTestApps, inboundParams, uniquePhone, WEBHOOK_PATH, WEBHOOK_URL, AUTH_TOKEN, type TestApp } from '../support/test-app.js';
import { newMessageSid, sign } from '../support/twilio-sign.js';

/**
 * The signature covers exactly the parameters received, whatever their names. A request is
 * built as a list of pairs so that repeats and names like __proto__ go out exactly as given.
 *
 * The properties run with a fixed seed in `npm test`. To search longer or elsewhere:
 *   FC_NUM_RUNS=20000 FC_SEED=$RANDOM npx mocha --grep 'signature covers'
 * A failure prints its seed and path; set FC_SEED (and FC_PATH) to replay it.
 */
type Pair = [string, string];

const FC_SEED = process.env.FC_SEED === undefined ? 20261130 : Number(process.env.FC_SEED);
const FC_NUM_RUNS = process.env.FC_NUM_RUNS === undefined ? 100 : Number(process.env.FC_NUM_RUNS);
const FC_OPTIONS = { seed: FC_SEED, numRuns: FC_NUM_RUNS, ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}) };

/** Pairs into the object twilio's getExpectedTwilioSignature takes (own keys, __proto__ included; repeats as arrays). */
function paramsOf(pairs: readonly Pair[]): Record<string, string | string[]> {
  const out = Object.create(null) as Record<string, string | string[]>;
  for (const [k, v] of pairs) {
    const had = out[k];
    out[k] = had === undefined ? v : [...(Array.isArray(had) ? had : [had]), v];
  }
  return out;
}

function encode(pairs: readonly Pair[]): string {
  const search = new URLSearchParams();
  for (const [k, v] of pairs) {
    search.append(k, v);
  }
  return search.toString();
}

function post(t: TestApp, pairs: readonly Pair[], signature: string) {
  return request(t.app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(encode(pairs));
}

/** A Twilio inbound-SMS request as pairs, with a fresh MessageSid and sender. */
function basePairs(): Pair[] {
  return Object.entries(inboundParams({ From: uniquePhone(), MessageSid: newMessageSid() }));
}

/** Parameters the normalizer reads itself (validated, not kept in `extra`). */
const READ = new Set(['MessageSid', 'SmsMessageSid', 'SmsSid', 'AccountSid', 'MessagingServiceSid', 'From', 'To', 'Body', 'NumMedia', 'NumSegments', 'OptOutType']);
const isRead = (key: string): boolean => READ.has(key) || /^Media(Url|ContentType)\d+$/.test(key);

/** What the pipeline should see in `extra`: every received pair the normalizer does not read. */
function expectedExtra(pairs: readonly Pair[]): Pair[] {
  return pairs.filter(([k]) => !isRead(k)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const TRICKY_NAMES = [
  '__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__',
  '', ' ', 'from', 'FROM', 'From ', ' From', 'Fr\u200bom', 'From[]', 'From[0]', 'From[$ne]', 'To.x', 'Body[]',
  'caf\u00e9', 'cafe\u0301', '%46rom', '+', '&', '=', 'a=b', '\u{1f4a9}', '\u0000',
];
const nameArb = fc.oneof(fc.constantFrom(...TRICKY_NAMES), fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }));
const valueArb = fc.oneof(fc.constant(''), fc.constantFrom('__proto__', '[object Object]', 'x=y&z', '%zz'), fc.string({ unit: 'binary', maxLength: 24 }));

/** Extra parameters with names of every kind (unique, none the normalizer reads, never the empty pair no signature covers). */
const extrasArb = fc
  .uniqueArray(fc.tuple(nameArb, valueArb), { selector: ([k]) => k, maxLength: 8 })
  .map((pairs) => pairs.filter(([k, v]) => !isRead(k) && !(k === '' && v === '')) as Pair[]);

type Mutation =
  | { kind: 'remove'; index: number }
  | { kind: 'add'; name: string; value: string }
  | { kind: 'repeat'; index: number; value: string | null }
  | { kind: 'change'; index: number; value: string };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('remove' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('add' as const), name: nameArb, value: valueArb }),
  // value null: the same name and value again.
  fc.record({ kind: fc.constant('repeat' as const), index: fc.nat(), value: fc.option(valueArb) }),
  fc.record({ kind: fc.constant('change' as const), index: fc.nat(), value: valueArb }),
);

/** The pairs after the mutation, or null when it would change nothing (adding a name already there is 'repeat'). */
function mutate(pairs: readonly Pair[], m: Mutation): Pair[] | null {
  const out = pairs.map((p) => [...p] as Pair);
  if (m.kind === 'add') {
    if (out.some(([k]) => k === m.name)) {
      return null;
    }
    out.splice(m.name.length % (out.length + 1), 0, [m.name, m.value]);
    return out;
  }
  const i = m.index % out.length;
  const [name, value] = out[i] as Pair;
  if (m.kind === 'remove') {
    out.splice(i, 1);
  } else if (m.kind === 'repeat') {
    out.push([name, m.value ?? value]);
  } else {
    if (m.value === value) {
      return null;
    }
    out[i] = [name, m.value];
  }
  return out;
}

describe('the signature covers exactly the parameters received', () => {
  const buildTestApp = closingTestApps();
  let t: TestApp;

  before(async () => {
    t = await buildTestApp();
  });

  for (const name of ['__proto__', 'constructor', 'prototype', 'toString']) {
    it(`when ${name}=x is appended to a genuinely signed body, then it answers 403 and stores nothing`, async () => {
      const pairs = basePairs();
      const signature = sign(AUTH_TOKEN, WEBHOOK_URL, paramsOf(pairs));
      const res = await post(t, [...pairs, [name, 'x']], signature);
      expect(res.status).to.equal(403);
      expect(await t.store.getMessage(pairs.find(([k]) => k === 'MessageSid')?.[1] as string)).to.equal(null);
    });

    it(`when a request is signed over all its parameters, ${name} included, then it is accepted and the pipeline sees ${name}`, async () => {
      const pairs: Pair[] = [...basePairs(), [name, 'x']];
      const res = await post(t, pairs, sign(AUTH_TOKEN, WEBHOOK_URL, paramsOf(pairs)));
      expect(res.status).to.equal(200);
      const stored = await t.store.getMessage(pairs.find(([k]) => k === 'MessageSid')?.[1] as string);
      expect(Object.getOwnPropertyDescriptor(stored?.message.extra, name)?.value).to.equal('x');
    });
  }

  it('when a parameter with an empty name and an empty value rides along, then it answers 403: no signature can cover it', async () => {
    const pairs: Pair[] = [...basePairs(), ['', '']];
    const res = await post(t, pairs, sign(AUTH_TOKEN, WEBHOOK_URL, paramsOf(pairs)));
    expect(res.status).to.equal(403);
  });

  it('when a signed pair is sent twice, then it answers 403: Twilio signs repeated values once, so the copy is not covered', async () => {
    const pairs = basePairs();
    const signature = sign(AUTH_TOKEN, WEBHOOK_URL, paramsOf(pairs));
    const res = await post(t, [...pairs, ['FromCity', 'CHICAGO']], signature);
    expect(res.status).to.equal(403);
  });

  it('when a request is signed exactly, whatever its parameter names and values, then it is accepted and the pipeline sees the same parameters (property)', async () => {
    await fc.assert(
      fc.asyncProperty(extrasArb, async (extras) => {
        const pairs = [...basePairs(), ...extras];
        const res = await post(t, pairs, sign(AUTH_TOKEN, WEBHOOK_URL, paramsOf(pairs)));
        expect(res.status, res.text).to.equal(200);
        const byName = new Map(pairs);
        const stored = await t.store.getMessage(byName.get('MessageSid') as string);
        const seen = Object.entries(stored?.message.extra ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        expect(seen).to.deep.equal(expectedExtra(pairs));
        expect(stored?.message).to.include({ from: byName.get('From'), to: byName.get('To'), body: byName.get('Body'), messageSid: byName.get('MessageSid') });
      }),
      FC_OPTIONS,
    );
  });

  it('when any parameter is added, removed, repeated or changed after signing, then it answers 403 and nothing is stored (property)', async () => {
    await fc.assert(
      fc.asyncProperty(extrasArb, mutationArb, async (extras, mutation) => {
        const pairs = [...basePairs(), ...extras];
        const mutated = mutate(pairs, mutation);
        fc.pre(mutated !== null);
        const res = await post(t, mutated as Pair[], sign(AUTH_TOKEN, WEBHOOK_URL, paramsOf(pairs)));
        expect(res.status, `${mutation.kind}: ${res.text}`).to.equal(403);
        expect(await t.store.getMessage(new Map(pairs).get('MessageSid') as string)).to.equal(null);
      }),
      { ...FC_OPTIONS, numRuns: FC_NUM_RUNS * 2 },
    );
  });
});
