import { expect } from 'chai';
import { parseClinics } from '../../../src/config/clinics-file.js';
import { checkEventEndpoints, resolveEndpoints } from '../../../src/config/event-endpoints.js';
import { eventId } from '../../../src/events/event-types.js';
import { nextDelayMs, parseRetryAfter, RETRY_DELAYS_MS } from '../../../src/jobs/retry-schedule.js';
import { newSecret } from '../../support/event-builders.js';

const clinic = (events: string): string => `clinics:
  - id: northside
    name: Northside
    timezone: America/Chicago
    phoneNumbers: ["+13125550300"]
    events:
${events}`;

function findingsOf(text: string): string[] {
  try {
    parseClinics(text, 'clinics.yaml');
    return [];
  } catch (err) {
    return (err as { findings: { line: number; col: number; message: string }[] }).findings.map((f) => `${f.line}:${f.col}: ${f.message}`);
  }
}

describe('events: endpoint configuration', function () {
  it('when a clinic lists endpoints, then url, secretEnv, types and allowInsecure are parsed (types default to all)', function () {
    const file = parseClinics(
      clinic(`      - url: https://pms.example.com/hooks/sms
        secretEnv: NORTHSIDE_EVENTS_SECRET
        types: [appointment.confirmed, consent.opted_out]
      - url: http://10.0.0.5/hook
        secretEnv: NORTHSIDE_LOCAL
        allowInsecure: true
`),
      'clinics.yaml',
    );
    const events = file.byId.get('northside')?.events ?? [];
    expect(events.map((e) => [e.url, e.secretEnv, e.types, e.allowInsecure])).to.deep.equal([
      ['https://pms.example.com/hooks/sms', 'NORTHSIDE_EVENTS_SECRET', ['appointment.confirmed', 'consent.opted_out'], false],
      ['http://10.0.0.5/hook', 'NORTHSIDE_LOCAL', null, true],
    ]);
    expect(events[0]?.at).to.deep.equal({ file: 'clinics.yaml', line: 7, col: 14 });
  });

  it('when an endpoint is malformed, then each problem is reported with file:line:col', function () {
    const findings = findingsOf(
      clinic(`      - url: ftp://x
        secretEnv: lower
        types: [appointment.confirmd]
        colour: red
`),
    );
    expect(findings).to.deep.equal([
      '7:14: clinics[0].events[0].url: required http(s) URL without credentials',
      '8:20: clinics[0].events[0].secretEnv: required environment variable name holding a whsec_ secret',
      '9:17: clinics[0].events[0].types[0]: unknown event type "appointment.confirmd" (appointment.confirmed, appointment.cancel_requested, appointment.reschedule_requested, consent.opted_out, consent.opted_in, message.routed)',
      '10:9: clinics[0].events[0]: unknown field "colour" (url, secretEnv, types, allowInsecure)',
    ]);
  });

  it('when in production an endpoint is http: without allowInsecure, or its secret is missing or not whsec_, then start-up findings name its position', function () {
    const file = parseClinics(
      clinic(`      - url: http://pms.example.com/hook
        secretEnv: MISSING_SECRET
      - url: https://pms.example.com/hook
        secretEnv: BAD_SECRET
      - url: http://10.0.0.5/hook
        secretEnv: GOOD_SECRET
        allowInsecure: true
`),
      'clinics.yaml',
    );
    const env = { BAD_SECRET: 'plain-text', GOOD_SECRET: newSecret() };
    const lines = checkEventEndpoints(file.clinics, env, true).map((f) => `${f.file}:${f.line}:${f.col}: ${f.message}`);
    expect(lines).to.deep.equal([
      'clinics.yaml:7:14: clinic northside: events endpoint secret MISSING_SECRET is not set',
      'clinics.yaml:7:14: clinic northside: events endpoint http://pms.example.com/hook is http: (refused in production unless allowInsecure: true)',
      'clinics.yaml:9:14: clinic northside: BAD_SECRET must be whsec_ followed by base64',
    ]);
    expect(checkEventEndpoints(file.clinics, { ...env, MISSING_SECRET: newSecret(), BAD_SECRET: newSecret() }, false)).to.deep.equal([]);
  });

  it('when a previous secret is set, then the endpoint signs with the current one first and the previous one second', function () {
    const [current, previous] = [newSecret(), newSecret()];
    const file = parseClinics(clinic(`      - url: https://pms.example.com/hook\n        secretEnv: S\n`), 'clinics.yaml');
    const [endpoint] = resolveEndpoints(file.byId.get('northside')!, { S: current, S_PREVIOUS: previous });
    expect(endpoint?.secrets).to.deep.equal([current, previous]);
    expect(endpoint?.id).to.match(/^ep_[0-9a-f]{16}$/);
  });
});

describe('events: ids and retry schedule', function () {
  it('when the MessageSid, type and subject are the same, then the event id is the same; any change gives another, and no phone shows in it', function () {
    const a = eventId('SM1', 'consent.opted_out', '+13125550100');
    expect(eventId('SM1', 'consent.opted_out', '+13125550100')).to.equal(a);
    expect(eventId('SM2', 'consent.opted_out', '+13125550100')).to.not.equal(a);
    expect(eventId('SM1', 'consent.opted_in', '+13125550100')).to.not.equal(a);
    expect(a).to.match(/^evt_[A-Za-z0-9_-]{27}$/).and.not.include('555');
  });

  it('when attempts fail, then the waits follow the schedule within 10 % jitter, and none is left after the tenth', function () {
    expect(RETRY_DELAYS_MS.map((ms) => ms / 1000)).to.deep.equal([0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]);
    expect(nextDelayMs(1, RETRY_DELAYS_MS, 0)).to.equal(4500);
    expect(nextDelayMs(1, RETRY_DELAYS_MS, 0.999_999)).to.equal(5500);
    expect(nextDelayMs(9, RETRY_DELAYS_MS, 0.5)).to.equal(86_400_000);
    expect(nextDelayMs(10)).to.equal(null);
  });

  it('when Retry-After is seconds or an HTTP date, then it is read as a wait, capped at a day; junk is ignored', function () {
    const now = new Date('2026-11-30T18:00:00Z');
    expect(parseRetryAfter('120', now)).to.equal(120_000);
    expect(parseRetryAfter('Mon, 30 Nov 2026 18:01:00 GMT', now)).to.equal(60_000);
    expect(parseRetryAfter('9999999', now)).to.equal(86_400_000);
    expect(parseRetryAfter('soon', now)).to.equal(null);
    expect(parseRetryAfter(null, now)).to.equal(null);
  });
});
