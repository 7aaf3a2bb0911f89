import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileClinicRules, parseRulesFile } from '../../../src/rules/load-rules.js';
import { OPEN_NOW, RULES_DIR, compileFromText, makeClinic, makeWorld, send } from '../../support/rules-builders.js';

const DEFAULTS = readFileSync(join(RULES_DIR, 'default.yaml'), 'utf8');

const EMERGENCY = `
phrases:
  emergency: [chest pain, cant breathe]
rules:
  - name: emergency
    priority: 95
    halt: true
    conditions:
      all:
        - { fact: message.text, operator: containsPhraseFrom, value: emergency }
    event:
      type: route-to-staff
      params: { priority: urgent, reason: chest pain or breathing, reply: call-911 }
templates:
  call-911: "If this is an emergency, call 911 now."
`;

describe('urgent: route-to-staff with priority and reason', () => {
  it('when an urgent rule routes a message, then the conversation is urgent with the reason and comes before a newer normal one; the audit detail carries both', async () => {
    const rules = compileFromText(DEFAULTS, EMERGENCY);
    const ana = await makeWorld([{ firstName: 'Ana' }]);
    const ben = await makeWorld([{ firstName: 'Ben' }], { store: ana.store, phone: '+13125559876' });
    const urgent = await send(rules, ana, 'I have chest pain', { now: OPEN_NOW });
    // Ben's message is newer, and normal; Ben texts through Ana's world so both land in one conversation store.
    await send(rules, { ...ana, phone: ben.phone, patients: ben.patients }, 'Can I bring my own forms?', { now: new Date(OPEN_NOW.getTime() + 60_000) });
    expect(urgent.outcome.actions).to.deep.equal([
      { type: 'route-to-staff', outcome: 'routed', ruleName: 'emergency', detail: { mediaCount: 0, priority: 'urgent', reason: 'chest pain or breathing' } },
    ]);
    expect(ana.routed.map((r) => [r.priority ?? null, r.priorityReason ?? null])).to.deep.equal([
      ['urgent', 'chest pain or breathing'],
      ['normal', null],
    ]);
    const { conversations } = await ana.conversations.list({ clinicId: ana.clinic.id, limit: 10, now: new Date(OPEN_NOW.getTime() + 120_000) });
    expect(conversations.map((c) => [c.phone, c.priority, c.priorityReason])).to.deep.equal([
      [ana.phone, 'urgent', 'chest pain or breathing'],
      [ben.phone, 'normal', null],
    ]);
  });

  it('when priority or reason is misused, then rules check says where and why', () => {
    const defaults = parseRulesFile(DEFAULTS, 'rules/default.yaml', 'default');
    const clinicFile = parseRulesFile(
      `rules:
  - name: a
    conditions: { all: [{ fact: patients.known, operator: equal, value: true }] }
    event: { type: reply-only, params: { priority: urgent, reply: message-received } }
  - name: b
    conditions: { all: [{ fact: patients.known, operator: equal, value: true }] }
    event: { type: route-to-staff, params: { priority: high, reason: "${'x'.repeat(61)}" } }
`,
      'rules/clinics/downtown.yaml',
      'clinic',
    );
    const found = compileClinicRules(defaults, clinicFile, makeClinic()).findings.map((f) => `${f.line}:${f.col}: ${f.message}`);
    expect(found).to.deep.equal([
      '4:52: rules[0].event.params.priority: only route-to-staff takes a priority (this rule\'s action is reply-only)',
      '7:56: rules[1].event.params.priority: must be urgent or normal',
      '7:70: rules[1].event.params.reason: must NOT have more than 60 characters',
    ]);
  });
});
