import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, type RuleProperties } from 'json-rules-engine';
import { decide, type EvaluationInput } from '../../../src/rules/evaluate.js';
import { ALWAYS_PROCESSED_ACTIONS, applyDecision, keepActions } from '../../../src/service/apply-decision.js';
import { FACTS } from '../../../src/rules/fact-catalog.js';
import { APPOINTMENT_FACTS, UPCOMING_FACTS, createMessageContext } from '../../../src/rules/message-facts.js';
import type { CompiledRules } from '../../../src/rules/load-rules.js';
import { FIXTURES_DIR, OPEN_NOW, SlowStore, compileFromText, makeClinic, makeMessage, makeWorld, realRules, send, type World } from '../../support/rules-builders.js';

const future = new Date('2026-12-01T15:00:00Z');

function inputFor(world: World, body: string): EvaluationInput {
  return {
    clinic: world.clinic,
    message: makeMessage(body, { from: world.phone }),
    patients: world.patients,
    optedOut: false,
    now: OPEN_NOW,
    store: world.store,
  };
}

describe('evaluation on json-rules-engine', () => {
  describe('one Engine per message', () => {
    let rules: CompiledRules;
    before(() => {
      rules = compileFromText(readFileSync(join(FIXTURES_DIR, 'two-priorities.yaml'), 'utf8'), null);
    });

    it('when overlapping messages run through decide() at once, then every message gets both priority levels\' events', async () => {
      const store = new SlowStore((call) => (call % 4) * 5);
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: future }] }], { store });
      const decisions = await Promise.all(Array.from({ length: 24 }, () => decide(rules, inputFor(world, 'hello'))));
      for (const decision of decisions) {
        expect(decision.events.map((e) => e.ruleName)).to.deep.equal(['high', 'low']);
      }
      expect(store.lookups).to.equal(24);
    });

    it('when the same overlap runs on one shared Engine, then lower-priority events are lost (the hazard decide() avoids)', async () => {
      const store = new SlowStore((call) => (call % 4) * 5);
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: future }] }], { store });
      const shared = new Engine([], { allowUndefinedFacts: false });
      for (const rule of rules.rules) {
        shared.addRule(structuredClone(rule.definition) as RuleProperties);
      }
      const counts = await Promise.all(
        Array.from({ length: 24 }, async () => {
          const input = inputFor(world, 'hello');
          const ctx = createMessageContext(rules, input);
          const facts: Record<string, unknown> = { ...ctx.facts };
          for (const [name, compute] of Object.entries(APPOINTMENT_FACTS)) {
            facts[name] = async (): Promise<unknown> => compute(await ctx.nextAppointment(), input);
          }
          return (await shared.run(facts)).events.length;
        }),
      );
      expect(counts.filter((n) => n < 2).length).to.be.greaterThan(0);
    });

    it('when messages of senders with and without an appointment follow one another and overlap, then each gets every event and only its own', async () => {
      const store = new SlowStore((call) => (call % 4) * 5);
      const withAppointment = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: future }] }], { store });
      const without = await makeWorld([{ firstName: 'Bo' }]);
      for (let i = 0; i < 3; i++) {
        expect((await decide(rules, inputFor(withAppointment, 'hello'))).events.map((e) => e.ruleName)).to.deep.equal(['high', 'low']);
        expect((await decide(rules, inputFor(without, 'hello'))).events.map((e) => e.ruleName)).to.deep.equal(['low']);
      }
      const mixed = await Promise.all(Array.from({ length: 24 }, (_, i) => decide(rules, inputFor(i % 2 === 0 ? withAppointment : without, 'hello'))));
      mixed.forEach((decision, i) => {
        expect(decision.events.map((e) => e.ruleName)).to.deep.equal(i % 2 === 0 ? ['high', 'low'] : ['low']);
      });
    });

    it('when a halting rule stopped the run of one message, then the next message is evaluated in full', async () => {
      const halting = compileFromText(
        [
          'version: 1',
          'keywords:',
          '  STOP:',
          '    en: [STOP]',
          'rules:',
          '  - name: opt-out',
          '    priority: 100',
          '    halt: true',
          '    conditions:',
          '      all:',
          '        - { fact: message.command, operator: equal, value: STOP }',
          '    event: { type: opt-out }',
          '  - name: booked',
          '    priority: 10',
          '    halt: true',
          '    conditions:',
          '      all:',
          '        - { fact: appointment.exists, operator: equal, value: true }',
          '    event: { type: reply-only, params: { reply: booked } }',
          '  - name: anyone',
          '    priority: 5',
          '    conditions:',
          '      all:',
          '        - { fact: patients.known, operator: equal, value: true }',
          '    event: { type: reply-only, params: { reply: anyone } }',
          'templates:',
          '  booked: "booked"',
          '  anyone: "anyone"',
          '  system-error: "error"',
          '',
        ].join('\n'),
        null,
      );
      const withAppointment = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: future }] }]);
      const without = await makeWorld([{ firstName: 'Bo' }]);
      for (let i = 0; i < 3; i++) {
        expect((await decide(halting, inputFor(withAppointment, 'hello'))).events.map((e) => e.ruleName)).to.deep.equal(['booked']);
        expect((await decide(halting, inputFor(without, 'hello'))).events.map((e) => e.ruleName)).to.deep.equal(['anyone']);
      }
    });

    it('when decide() runs, then the compiled definitions are not changed', async () => {
      const world = await makeWorld([{ firstName: 'Ana' }]);
      const before = JSON.stringify(rules.rules);
      await decide(rules, inputFor(world, 'hello'));
      expect(JSON.stringify(rules.rules)).to.equal(before);
    });
  });

  describe('keyword index', () => {
    let rules: CompiledRules;
    before(async () => {
      rules = await realRules(makeClinic());
    });

    it('when a message has no keyword, then no rule that requires a keyword is handed to the engine', async () => {
      const world = await makeWorld([{ firstName: 'Ana' }]);
      // explain: the keyword index alone (the known-facts prefilter has its own tests).
      const decision = await decide(rules, inputFor(world, 'Where do I park?'), { explain: true });
      // The family question's answer rules have no keyword: only the known-facts prefilter leaves them out.
      expect(decision.evaluated).to.deep.equal(['opt-out-phrase', 'possible-opt-out', 'unknown-number', 'unknown-number-quiet', 'which-appointment-confirm', 'which-appointment-cancel', 'which-appointment-reschedule', 'which-appointment-unclear', 'which-appointment-unclear-again', 'closed-today', 'after-hours-message', 'after-hours-quiet', 'message-to-staff']);
      const skipped = decision.ruleResults.filter((r) => r.skipped === 'keyword-index').map((r) => r.name);
      expect(skipped).to.include.members(['opt-out', 'opt-in', 'help', 'confirm-appointment', 'cancel-appointment', 'reschedule-appointment', 'office-hours']);
    });

    it('when a message is HELP, then only HELP rules and rules without keyword conditions are run', async () => {
      const world = await makeWorld([{ firstName: 'Ana' }]);
      const decision = await decide(rules, inputFor(world, 'help'), { explain: true });
      expect(decision.evaluated).to.deep.equal(['opt-out-phrase', 'help', 'possible-opt-out', 'unknown-number', 'unknown-number-quiet', 'which-appointment-confirm', 'which-appointment-cancel', 'which-appointment-reschedule', 'which-appointment-unclear', 'which-appointment-unclear-again', 'closed-today', 'after-hours-message', 'after-hours-quiet', 'message-to-staff']);
    });

    it('when a bare CANCEL arrives, then both the keyword-indexed opt-out and the CANCEL rules are candidates, and opt-out (consent, tried first) wins and halts them', async () => {
      const world = await makeWorld([{ firstName: 'Ana' }]);
      const decision = await decide(rules, inputFor(world, 'CANCEL'), { explain: true });
      expect(decision.evaluated).to.include.members(['opt-out']);
      const halted = decision.ruleResults.filter((r) => r.skipped === 'halted').map((r) => r.name);
      expect(halted).to.include.members(['cancel-appointment', 'media-with-keyword']);
      expect(decision.events.map((e) => e.ruleName)).to.deep.equal(['opt-out']);
    });

    it('when a clinic has a thousand keyword rules, then a message without their keywords runs none of them', () => {
      const keywords = Array.from({ length: 1000 }, (_, i) => `  K${i}: { en: [WORD${i}] }`).join('\n');
      const many = Array.from(
        { length: 1000 },
        (_, i) => `  - { name: r${i}, conditions: { all: [ { fact: message.command, operator: equal, value: K${i} } ] }, event: { type: reply-only } }`,
      ).join('\n');
      const yaml = `keywords:\n  STOP: { en: [STOP] }\n${keywords}\nrules:\n  - { name: opt-out, priority: 9, conditions: { any: [ { fact: message.command, operator: equal, value: STOP } ] }, event: { type: opt-out } }\n${many}\ntemplates: { system-error: "x" }\n`;
      const big = compileFromText(yaml, null);
      expect(big.index.always).to.deep.equal([]);
      expect(big.index.byKey.get('command:K500')).to.have.length(1);
      return makeWorld([{ firstName: 'Ana' }]).then(async (world) => {
        expect((await decide(big, inputFor(world, 'hello'))).evaluated).to.deep.equal([]);
        const hit = await decide(big, inputFor(world, 'word500'));
        expect(hit.evaluated).to.deep.equal(['r500']);
        expect(hit.events.map((e) => e.ruleName)).to.deep.equal(['r500']);
      });
    });

    it('when conditions put a keyword under "any" with a non-keyword branch, then the rule always runs', () => {
      const yaml = `keywords: { STOP: { en: [STOP] } }
rules:
  - { name: opt-out, conditions: { all: [ { fact: message.command, operator: equal, value: STOP } ] }, event: { type: opt-out } }
  - { name: mixed, conditions: { any: [ { fact: message.command, operator: equal, value: STOP }, { fact: patients.count, operator: greaterThan, value: 1 } ] }, event: { type: no-reply } }
  - { name: negated, conditions: { not: { fact: message.command, operator: equal, value: STOP } }, event: { type: no-reply } }
  - { name: both, conditions: { all: [ { fact: message.keyword, operator: in, value: [A, B] }, { fact: message.command, operator: equal, value: STOP } ] }, event: { type: no-reply } }
templates: { system-error: "x" }
`;
      const compiled = compileFromText(yaml, null);
      expect(compiled.rules.map((r) => [r.name, r.requires])).to.deep.equal([
        ['opt-out', ['command:STOP']],
        ['mixed', null],
        ['negated', null],
        ['both', ['command:STOP']],
      ]);
    });
  });

  describe('lazy next-appointment fact', () => {
    let rules: CompiledRules;
    before(async () => {
      rules = await realRules(makeClinic());
    });

    it('when no rule that runs names an appointment fact, then the store is never asked for one', async () => {
      const store = new SlowStore(() => 0);
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: future }] }], { store });
      const { decision, outcome } = await send(rules, world, 'HELP');
      expect(store.lookups).to.equal(0);
      expect(decision.facts).to.not.have.property('appointment.exists');
      expect(outcome.reply).to.match(/Reply STOP/);
    });

    it('when a rule names an appointment fact and the action needs the appointment too, then it is looked up once', async () => {
      const yaml = `keywords: { STOP: { en: [STOP] }, CONFIRM: { en: [CONFIRM] } }
rules:
  - { name: opt-out, priority: 9, conditions: { all: [ { fact: message.command, operator: equal, value: STOP } ] }, event: { type: opt-out } }
  - name: confirm-soon
    conditions:
      all:
        - { fact: message.command, operator: equal, value: CONFIRM }
        - { fact: appointment.exists, operator: equal, value: true }
        - { fact: appointment.hoursUntil, operator: lessThan, value: 100000 }
        - { fact: appointment.status, operator: equal, value: scheduled }
    event: { type: confirm-appointment, params: { reply: done } }
templates: { done: "{{patient.firstName}} {{appointment.date}}", system-error: "x" }
`;
      const compiled = compileFromText(yaml, null);
      const store = new SlowStore(() => 1);
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: future }] }], { store });
      const { decision, outcome } = await send(compiled, world, 'confirm');
      expect(store.lookups).to.equal(1);
      expect(decision.facts['appointment.status']).to.equal('scheduled');
      expect(outcome.reply).to.equal('Ana Tuesday, December 1');
    });

    it('when every lazy fact of the catalog is checked, then each has a computation and no eager value', () => {
      const lazy = Object.entries(FACTS)
        .filter(([, spec]) => 'lazy' in spec && spec.lazy)
        .map(([name]) => name);
      expect([...Object.keys(APPOINTMENT_FACTS), ...Object.keys(UPCOMING_FACTS)].sort()).to.deep.equal(lazy.sort());
    });
  });

  describe('decisions and outcomes', () => {
    let rules: CompiledRules;
    before(async () => {
      rules = await realRules(makeClinic());
    });

    it('when a halting rule matches, then lower-priority rules are reported as halted with json-rules-engine\'s condition results for the rest', async () => {
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: future }] }]);
      const decision = await decide(rules, inputFor(world, 'confirm'), { explain: true });
      const byName = new Map(decision.ruleResults.map((r) => [r.name, r]));
      expect(byName.get('confirm-appointment')).to.include({ matched: true });
      expect(byName.get('after-hours-message')).to.include({ matched: false, skipped: 'halted' });
      expect(byName.get('unknown-number')?.matched).to.equal(false);
      expect(JSON.stringify(byName.get('unknown-number')?.conditions)).to.contain('"factResult":true');
    });

    it('when decide() runs without applyDecision, then nothing is written', async () => {
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: future }] }]);
      await decide(rules, inputFor(world, 'STOP'));
      expect(await world.store.getOptOut(world.clinic.id, world.phone)).to.equal(null);
    });

    it('when applyDecision runs with dryRun, then the outcome and reply are computed and nothing is written', async () => {
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: future }] }]);
      const { outcome } = await send(rules, world, 'cancel appt', { dryRun: true });
      expect(outcome.actions.map((a) => a.outcome)).to.deep.equal(['cancel-requested']);
      expect(outcome.reply).to.match(/^We received your request to cancel Ana's appointment/);
      expect((await world.store.findNextAppointment(world.clinic.id, [world.patients[0]!.id], OPEN_NOW))?.status).to.equal('scheduled');
      expect(world.routed).to.deep.equal([]);
      expect(await world.conversations.list({ clinicId: world.clinic.id, limit: 10, now: OPEN_NOW })).to.deep.equal({ conversations: [], next: null });
    });

    it('when a rate-limited sender\'s decision keeps only the always-processed actions, then STOP still opts out and text runs nothing', async () => {
      expect([...ALWAYS_PROCESSED_ACTIONS].sort()).to.deep.equal(['help', 'opt-in', 'opt-out', 'safety']);
      const world = await makeWorld([{ firstName: 'Ana' }]);
      const stopInput = inputFor(world, 'STOP');
      const stop = keepActions(await decide(rules, stopInput), ALWAYS_PROCESSED_ACTIONS);
      expect((await applyDecision(rules, stop, stopInput, { staff: world.staff })).actions.map((a) => a.type)).to.deep.equal(['opt-out']);
      const textInput = inputFor(world, 'hello');
      const text = keepActions(await decide(rules, textInput), ALWAYS_PROCESSED_ACTIONS);
      expect(await applyDecision(rules, text, textInput, { staff: world.staff })).to.deep.equal({ rulesFired: [], actions: [], reply: null });
    });

    it('when a no-reply rule outranks a rule with a reply, then there is no reply', async () => {
      const yaml = `keywords: { STOP: { en: [STOP] } }
rules:
  - { name: opt-out, priority: 9, conditions: { all: [ { fact: message.command, operator: equal, value: STOP } ] }, event: { type: opt-out } }
  - { name: quiet, priority: 5, conditions: { all: [ { fact: message.mediaCount, operator: greaterThan, value: 0 } ] }, event: { type: no-reply } }
  - { name: staff, priority: 1, conditions: { all: [ { fact: patients.known, operator: equal, value: true } ] }, event: { type: route-to-staff, params: { reply: thanks } } }
templates: { thanks: "Thanks", system-error: "x" }
`;
      const compiled = compileFromText(yaml, null);
      const world = await makeWorld([{ firstName: 'Ana' }]);
      const media = [{ url: 'https://api.twilio.com/m/1', contentType: 'image/gif' }];
      expect((await send(compiled, world, '', { message: { media, numMedia: 1 } })).outcome.reply).to.equal(null);
      expect((await send(compiled, world, 'hi')).outcome.reply).to.equal('Thanks');
    });
  });
});
