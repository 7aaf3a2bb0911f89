import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONSENT_ACTIONS } from '../../../src/actions/consent.js';
import { OPEN_NOW, RULES_DIR, compileFromText, makeClinic, makeWorld, send } from '../../support/rules-builders.js';

const DEFAULTS = readFileSync(join(RULES_DIR, 'default.yaml'), 'utf8');

/** What the office administrator of issue 30 added: an emergency rule above everything, halting. */
const EMERGENCY = `
rules:
  - name: emergency
    priority: 200
    halt: true
    conditions:
      any:
        - { fact: message.words, operator: contains, value: EMERGENCY }
        - { fact: message.text, operator: containsPhrase, value: chest pain }
    event: { type: route-to-staff, params: { reply: emergency-911 } }
  - name: quiet
    priority: 150
    halt: true
    conditions:
      all:
        - { fact: message.words, operator: contains, value: QUIET }
    event: { type: no-reply }
`;
const TEMPLATES = `
templates:
  emergency-911: "If this is an emergency, hang up and call 911."
`;

const OPT_OUT_TEXT = /^Downtown Family Clinic: You are unsubscribed/;

describe('consent outside the halting order: a STOP is never swallowed', () => {
  it('when a priority-200 halting emergency rule matches "Stop texting me, this is not an emergency", then the number ends opted out and gets the opt-out confirmation', async () => {
    const rules = compileFromText(DEFAULTS, EMERGENCY + TEMPLATES);
    const world = await makeWorld([{ firstName: 'Ana' }]);
    const { decision, outcome } = await send(rules, world, 'Stop texting me, this is not an emergency');
    expect(decision.events.map((e) => e.ruleName)).to.deep.equal(['emergency', 'opt-out']);
    expect(outcome.actions.map((a) => `${a.type}:${a.outcome}`)).to.deep.equal(['route-to-staff:routed', 'opt-out:opted-out']);
    expect((await world.store.getOptOut(world.clinic.id, world.phone))?.optedOut).to.equal(true);
    expect(outcome.reply).to.match(OPT_OUT_TEXT);
    // The emergency rule still did its work: staff see the message.
    expect(world.routed.map((r) => r.reason)).to.deep.equal(['message']);
  });

  it('when a halting no-reply rule matches a STOP, then the number is still opted out and the confirmation still sent', async () => {
    const rules = compileFromText(DEFAULTS, EMERGENCY + TEMPLATES);
    const world = await makeWorld([{ firstName: 'Ana' }]);
    const { outcome } = await send(rules, world, 'STOP, quiet please');
    expect(outcome.actions.map((a) => `${a.type}:${a.outcome}`)).to.deep.equal(['no-reply:no-reply', 'opt-out:opted-out']);
    expect(outcome.reply).to.match(OPT_OUT_TEXT);
  });

  it('when an opted-out number sends START with a word a halting rule matches, then it is opted back in and answered', async () => {
    const rules = compileFromText(DEFAULTS, EMERGENCY + TEMPLATES);
    const world = await makeWorld([{ firstName: 'Ana' }]);
    await send(rules, world, 'STOP');
    const { outcome } = await send(rules, world, 'START, it was an emergency', { now: new Date(OPEN_NOW.getTime() + 60_000), message: {} });
    expect(outcome.actions.map((a) => `${a.type}:${a.outcome}`)).to.deep.equal(['route-to-staff:routed', 'opt-in:opted-in']);
    expect((await world.store.getOptOut(world.clinic.id, world.phone))?.optedOut).to.equal(false);
    expect(outcome.reply).to.match(/You are subscribed to appointment texts again/);
  });

  it('when a consent rule fires and halts, then it still stops the lower-priority rules (a STOP does not reach staff)', async () => {
    const rules = compileFromText(DEFAULTS, EMERGENCY + TEMPLATES);
    const world = await makeWorld([{ firstName: 'Ana' }]);
    const { decision } = await send(rules, world, 'stop');
    expect(decision.events.map((e) => e.ruleName)).to.deep.equal(['opt-out']);
    expect(decision.ruleResults.find((r) => r.name === 'message-to-staff')?.skipped).to.equal('halted');
    expect(world.routed).to.deep.equal([]);
  });

  it('when a clinic writes its own rule with the opt-out action under a halting rule, then it is protected the same way', async () => {
    const rules = compileFromText(
      DEFAULTS,
      `${EMERGENCY}
  - name: plain-stop
    priority: 5
    conditions:
      all:
        - { fact: message.text, operator: containsPhrase, value: [do not text me, dont text me] }
    event: { type: opt-out, params: { reply: opt-out } }
${TEMPLATES}`,
      makeClinic(),
    );
    const world = await makeWorld([{ firstName: 'Ana' }]);
    const { outcome } = await send(rules, world, "Emergency is over, please don't text me");
    expect(outcome.actions.map((a) => `${a.type}:${a.outcome}`)).to.deep.equal(['route-to-staff:routed', 'opt-out:opted-out']);
    expect(outcome.reply).to.match(OPT_OUT_TEXT);
    expect([...CONSENT_ACTIONS]).to.deep.equal(['opt-out', 'opt-in']);
  });
});

describe('rules check and consent rules', () => {
  it('when a halting rule above matches every STOP, START and HELP, then only help is reported as never firing: consent rules always run', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { checkRules } = await import('../../../src/admin/check/check-rules.js');
    const dir = mkdtempSync(join(tmpdir(), 'clinic-sms-consent-check-'));
    try {
      mkdirSync(join(dir, 'clinics'));
      writeFileSync(join(dir, 'default.yaml'), DEFAULTS);
      writeFileSync(
        join(dir, 'clinics', 'downtown.yaml'),
        `rules:
  - name: everything-to-staff
    priority: 200
    halt: true
    conditions:
      any:
        - { fact: message.command, operator: in, value: [STOP, START, HELP, YES] }
    event: { type: route-to-staff }
`,
      );
      const report = await checkRules({ rulesDir: dir, clinicsFile: 'config/clinics.yaml' });
      const never = report.findings.filter((f) => f.code === 'unreachable-rule').map((f) => /rule "([^"]+)" can never fire/.exec(f.message)?.[1]);
      expect(never).to.include('help');
      expect(never).to.not.include('opt-out');
      expect(never).to.not.include('opt-in');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
