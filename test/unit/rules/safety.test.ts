import { expect } from 'chai';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRules } from '../../../src/admin/check/check-rules.js';
import { decide } from '../../../src/rules/evaluate.js';
import { ALWAYS_PROCESSED_ACTIONS, keepActions } from '../../../src/service/apply-decision.js';
import { OPEN_NOW, RULES_DIR, compileFromText, makeMessage, makeWorld, send } from '../../support/rules-builders.js';

const DEFAULTS = readFileSync(join(RULES_DIR, 'default.yaml'), 'utf8');

/** The emergency pattern of rules/README.md: staff get it as urgent, the patient gets the 911 text, opted out or not. */
const EMERGENCY = `
phrases:
  emergency: [chest pain, cant breathe]
rules:
  - name: emergency-answer
    priority: 95
    halt: true
    conditions:
      all:
        - { fact: message.text, operator: containsPhraseFrom, value: emergency }
    event: { type: safety, params: { reply: call-911 } }
  - name: emergency-to-staff
    priority: 95
    halt: true
    conditions:
      all:
        - { fact: message.text, operator: containsPhraseFrom, value: emergency }
    event: { type: route-to-staff, params: { priority: urgent, reason: emergency words } }
templates:
  call-911: "If this is an emergency, call 911 now. We have told our staff."
`;

describe('safety replies reach opted-out numbers, on purpose', () => {
  it('when an opted-out patient texts "chest pain", then the safety text answers, the audit says safety, and staff get it as urgent', async () => {
    const rules = compileFromText(DEFAULTS, EMERGENCY);
    const world = await makeWorld([{ firstName: 'Ana' }]);
    await send(rules, world, 'STOP');
    const { outcome } = await send(rules, world, 'I have chest pain', { now: new Date(OPEN_NOW.getTime() + 60_000) });
    expect(outcome.reply).to.equal('If this is an emergency, call 911 now. We have told our staff.');
    expect(outcome.actions.map((a) => `${a.type}:${a.outcome}:${a.ruleName}`)).to.deep.equal(['safety:safety:emergency-answer', 'route-to-staff:routed:emergency-to-staff']);
    expect(world.routed.map((r) => r.priority)).to.deep.equal(['urgent']);
  });

  it('when an opted-out patient texts something a route-to-staff rule answers, then there is still no reply: only safety, help and opt-in reach them', async () => {
    const rules = compileFromText(DEFAULTS, EMERGENCY);
    const world = await makeWorld([{ firstName: 'Ana' }]);
    await send(rules, world, 'STOP');
    const { outcome } = await send(rules, world, 'when is my appointment', { now: new Date(OPEN_NOW.getTime() + 60_000) });
    expect(outcome.actions.map((a) => a.type)).to.deep.equal(['route-to-staff']);
    expect(outcome.reply).to.equal(null);
  });

  it('when "STOP, chest pain" arrives, then the opt-out halts below it and its confirmation is the one reply', async () => {
    const rules = compileFromText(DEFAULTS, EMERGENCY);
    const world = await makeWorld([{ firstName: 'Ana' }]);
    const { outcome } = await send(rules, world, 'STOP chest pain');
    expect(outcome.actions.map((a) => a.type)).to.deep.equal(['opt-out']);
    expect(outcome.reply).to.match(/You are unsubscribed/);
  });

  it('when the sender is over the rate limit, then a safety answer is still processed, like HELP', async () => {
    const rules = compileFromText(DEFAULTS, EMERGENCY);
    const world = await makeWorld([{ firstName: 'Ana' }]);
    const message = makeMessage('cant breathe', { from: world.phone });
    const decision = await decide(rules, { clinic: world.clinic, message, patients: world.patients, optedOut: false, now: OPEN_NOW, store: world.store });
    expect(keepActions(decision, ALWAYS_PROCESSED_ACTIONS).events.map((e) => e.type)).to.deep.equal(['safety']);
  });

  it('when the rules are checked, then the output lists every rule that may text an opted-out number, the safety one included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clinic-sms-safety-check-'));
    try {
      mkdirSync(join(dir, 'clinics'));
      writeFileSync(join(dir, 'default.yaml'), DEFAULTS);
      writeFileSync(join(dir, 'clinics', 'downtown.yaml'), EMERGENCY);
      const report = await checkRules({ rulesDir: dir, clinicsFile: 'config/clinics.yaml' });
      const downtown = report.repliesToOptedOut.find((c) => c.clinic === 'downtown');
      expect(downtown?.rules.map((r) => `${r.name} (${r.action})`)).to.deep.equal(['opt-in (opt-in)', 'help (help)', 'emergency-answer (safety)']);
      expect(downtown?.rules[2]?.source).to.equal(`${join(dir, 'clinics', 'downtown.yaml')}:5:5`);
      expect(report.repliesToOptedOut.find((c) => c.clinic === 'lakeside')?.rules.map((r) => r.name)).to.deep.equal(['opt-in', 'help']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
