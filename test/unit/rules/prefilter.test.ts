import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decide, type EvaluationInput } from '../../../src/rules/evaluate.js';
import { knownResult } from '../../../src/rules/prefilter.js';
import { CLOSED_NOW, OPEN_NOW, RULES_DIR, compileFromText, makeClinic, makeMessage, makeWorld } from '../../support/rules-builders.js';

/** A clinic file whose rules use the shapes the prefilter must settle exactly as the engine does (or leave to it). */
const CLINIC_RULES = `
version: 1
rules:
  - name: vip-words
    priority: 70
    conditions:
      any:
        - { fact: message.words, operator: contains, value: URGENT }
        - all:
            - { fact: message.wordCount, operator: greaterThanInclusive, value: 3 }
            - { fact: patients.count, operator: greaterThan, value: 1 }
    event: { type: route-to-staff }
  - name: not-english-speaker
    priority: 65
    conditions:
      all:
        - not: { fact: patients.language, operator: in, value: ['', en] }
        - { fact: message.mediaTypes, operator: 'someFact:equal', value: image/jpeg }
    event: { type: route-to-staff }
  - name: soon-appointment-question
    priority: 55
    halt: true
    conditions:
      all:
        - { fact: message.keyword, operator: equal, value: WHEN }
        - { fact: appointment.hoursUntil, operator: lessThan, value: 48 }
        - { fact: appointment.exists, operator: equal, value: true }
    event: { type: reply-only, params: { reply: message-received } }
  - name: weekend-note
    priority: 12
    conditions:
      all:
        - { fact: time.weekday, operator: in, value: [sat, sun] }
        - { fact: time.hour, operator: lessThanInclusive, value: 23 }
    event: { type: route-to-staff }
`;

describe('the known-facts prefilter', () => {
  describe('knownResult', () => {
    const known = { 'message.command': 'CONFIRM', 'message.wordCount': 2, 'message.words': ['CONFIRM', 'PLEASE'], 'patients.known': true };

    it('when a condition names only known facts, then it is settled as json-rules-engine would settle it', () => {
      expect(knownResult({ all: [{ fact: 'message.command', operator: 'equal', value: 'CONFIRM' }] }, known)).to.equal(true);
      expect(knownResult({ all: [{ fact: 'message.command', operator: 'equal', value: 'STOP' }] }, known)).to.equal(false);
      expect(knownResult({ any: [{ fact: 'message.wordCount', operator: 'greaterThan', value: 5 }, { fact: 'patients.known', operator: 'equal', value: true }] }, known)).to.equal(true);
      expect(knownResult({ not: { fact: 'message.words', operator: 'contains', value: 'PLEASE' } }, known)).to.equal(false);
      expect(knownResult({ all: [{ fact: 'message.command', operator: 'not:in', value: ['STOP', 'HELP'] }] }, known)).to.equal(true);
      expect(knownResult({ all: [{ fact: 'message.words', operator: 'everyFact:notEqual', value: 'STOP' }] }, known)).to.equal(true);
    });

    it('when the engine would see an empty all/any, then it is true, as in json-rules-engine', () => {
      expect(knownResult({ all: [] }, known)).to.equal(true);
      expect(knownResult({ any: [] }, known)).to.equal(true);
    });

    it('when a condition needs a fact that is not known up front, then it is left to the engine unless the rest settles it', () => {
      const lazy = { fact: 'appointment.exists', operator: 'equal', value: true };
      expect(knownResult({ all: [lazy] }, known)).to.equal(undefined);
      expect(knownResult({ all: [lazy, { fact: 'patients.known', operator: 'equal', value: false }] }, known)).to.equal(false);
      expect(knownResult({ any: [lazy, { fact: 'patients.known', operator: 'equal', value: true }] }, known)).to.equal(true);
      expect(knownResult({ any: [lazy, { fact: 'patients.known', operator: 'equal', value: false }] }, known)).to.equal(undefined);
      expect(knownResult({ not: lazy }, known)).to.equal(undefined);
    });

    it('when a condition has a shape the prefilter does not settle (fact reference, path, params, condition reference, unknown operator), then it is left to the engine', () => {
      expect(knownResult({ all: [{ fact: 'message.command', operator: 'equal', value: { fact: 'message.keyword' } }] }, known)).to.equal(undefined);
      expect(knownResult({ all: [{ fact: 'message.command', operator: 'equal', value: 'X', path: '$.a' }] }, known)).to.equal(undefined);
      expect(knownResult({ all: [{ fact: 'message.command', operator: 'equal', value: 'X', params: {} }] }, known)).to.equal(undefined);
      expect(knownResult({ all: [{ condition: 'shared' }] }, known)).to.equal(undefined);
      expect(knownResult({ all: [{ fact: 'message.command', operator: 'nope', value: 'X' }] }, known)).to.equal(undefined);
    });
  });

  describe('decide() with and without the prefilter', () => {
    it('when every kind of message meets every sender state, then the events json-rules-engine fires are the same as evaluating every candidate', async () => {
      const defaults = readFileSync(join(RULES_DIR, 'default.yaml'), 'utf8');
      const clinic = makeClinic({ languages: ['en', 'es'] });
      const rules = compileFromText(defaults, CLINIC_RULES, clinic);
      const soon = new Date(OPEN_NOW.getTime() + 24 * 3_600_000);
      const later = new Date(OPEN_NOW.getTime() + 30 * 24 * 3_600_000);
      const family = await makeWorld(
        [
          { firstName: 'Ana', language: 'es', appointments: [{ startsAt: soon }] },
          { firstName: 'Ben', appointments: [{ startsAt: later, status: 'confirmed' }] },
        ],
        { clinic },
      );
      const single = await makeWorld([{ firstName: 'Cy', appointments: [{ startsAt: later }] }], { clinic });
      const bodies = [
        'STOP', 'stop please', 'CANCEL', 'cancel appt', 'CANCELAR', 'START', 'YES', 'si', 'HELP', 'CONFIRM', 'C', 'RESCHEDULE',
        'when', 'when is it', 'URGENT call me', 'running late sorry', '', 'hours', 'horario', 'UNSTOP', 'ayuda', 'what?',
      ];
      const media = [[], [{ url: 'https://api.twilio.com/x/Media/ME1', contentType: 'image/jpeg' }]];
      let compared = 0;
      let spared = 0;
      for (const body of bodies) {
        for (const who of [family, single, null]) {
          for (const optedOut of [false, true]) {
            for (const now of [OPEN_NOW, CLOSED_NOW, new Date('2026-11-14T18:00:00Z')]) {
              for (const m of media) {
                const world = who ?? single;
                const input: EvaluationInput = {
                  clinic,
                  message: makeMessage(body, { from: world.phone, media: m, numMedia: m.length }),
                  patients: who ? who.patients : [],
                  optedOut,
                  now,
                  store: world.store,
                };
                const fast = await decide(rules, input);
                const full = await decide(rules, input, { explain: true });
                const label = `${JSON.stringify(body)} known=${who !== null} optedOut=${optedOut} at ${now.toISOString()} media=${m.length}`;
                expect(fast.events, label).to.deep.equal(full.events);
                expect(fast.evaluated.length, label).to.be.at.most(full.evaluated.length);
                spared += full.evaluated.length - fast.evaluated.length;
                compared += 1;
              }
            }
          }
        }
      }
      expect(compared).to.equal(bodies.length * 3 * 2 * 3 * 2);
      // The prefilter must actually spare the engine work, or it is dead weight.
      expect(spared / compared).to.be.greaterThan(1);
    });

    it('when a halting rule is settled true, then lower-priority rules are reported as halted, and settled-false ones as known-facts', async () => {
      const rules = compileFromText(readFileSync(join(RULES_DIR, 'default.yaml'), 'utf8'), null);
      const world = await makeWorld([{ firstName: 'Dee', appointments: [{ startsAt: new Date(OPEN_NOW.getTime() + 86_400_000) }] }]);
      const input: EvaluationInput = { clinic: world.clinic, message: makeMessage('CONFIRM', { from: world.phone }), patients: world.patients, optedOut: false, now: OPEN_NOW, store: world.store };
      const decision = await decide(rules, input);
      const byName = new Map(decision.ruleResults.map((r) => [r.name, r]));
      expect(decision.evaluated).to.deep.equal(['confirm-appointment']);
      expect(decision.events.map((e) => e.ruleName)).to.deep.equal(['confirm-appointment']);
      expect(byName.get('unknown-number')).to.include({ matched: false, skipped: 'known-facts' });
      expect(byName.get('media-with-keyword')).to.include({ matched: false, skipped: 'known-facts' });
      expect(byName.get('message-to-staff')).to.include({ matched: false, skipped: 'halted' });
      expect(byName.get('help')).to.include({ matched: false, skipped: 'keyword-index' });
    });
  });
});
