import { expect } from 'chai';
import { normalizeText } from '../../../src/rules/normalize.js';
import { makeClinic, makeWorld, realRules, send, type World } from '../../support/rules-builders.js';
import type { CompiledRules } from '../../../src/rules/load-rules.js';

const future = new Date('2026-12-01T15:00:00Z');

describe('keywords and their variants (rules/default.yaml)', () => {
  let rules: CompiledRules;
  let englishOnly: CompiledRules;
  before(async () => {
    rules = await realRules(makeClinic());
    englishOnly = await realRules(makeClinic({ id: 'lakeside', languages: ['en'] }));
  });

  async function patient(): Promise<World> {
    return makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: future }] }]);
  }

  async function firstAction(body: string, r: CompiledRules = rules): Promise<string | undefined> {
    const world = await patient();
    const { outcome } = await send(r, world, body);
    return outcome.actions[0]?.type;
  }

  it('when text is normalized, then case, spaces, accents and punctuation do not matter', () => {
    expect(normalizeText('  ¡Sí,   confirmo! ')).to.equal('SI CONFIRMO');
    expect(normalizeText('Opt-Out.')).to.equal('OPTOUT');
    expect(normalizeText('...')).to.equal('');
  });

  const table: Array<[string, string[]]> = [
    ['opt-out', ['STOP', 'stop', ' Stop! ', 'STOPALL', 'stop all', 'UNSUBSCRIBE', 'end', 'Quit.', 'REVOKE', 'OPTOUT', 'opt-out', 'opt out', 'Stop texting me', 'CANCEL', 'cancel!']],
    ['opt-in', ['START', 'start', 'UNSTOP', 'Resume']],
    ['help', ['HELP', 'help?', 'INFO']],
    ['confirm-appointment', ['CONFIRM', 'confirmed', 'conf', 'Confirm please', 'YES', 'y', 'Yes!']],
    ['cancel-appointment', ['cancel appt', 'CANCEL APPOINTMENT', 'Cancel my appointment please', 'CXL', 'canceled']],
    ['reschedule-appointment', ['RESCHEDULE', 'resched', 're-schedule', 'change appt', 'Change appointment please']],
  ];
  for (const [action, variants] of table) {
    for (const variant of variants) {
      it(`when a patient sends ${JSON.stringify(variant)}, then the ${action} action runs`, async () => {
        expect(await firstAction(variant)).to.equal(action);
      });
    }
  }

  const spanish: Array<[string, string[]]> = [
    ['opt-out', ['PARAR', 'alto', 'Detener', 'BAJA', 'cancelar suscripción']],
    ['opt-in', ['INICIAR', 'comenzar', 'Reanudar']],
    ['help', ['AYUDA', '¡Ayuda!']],
    ['confirm-appointment', ['CONFIRMAR', 'confirmo', 'Sí', 'si']],
    ['cancel-appointment', ['CANCELAR', 'cancelar cita', 'anular']],
    ['reschedule-appointment', ['REPROGRAMAR', 'cambiar cita']],
  ];
  for (const [action, variants] of spanish) {
    for (const variant of variants) {
      it(`when a clinic lists es and a patient sends ${JSON.stringify(variant)}, then ${action} runs and the reply is in Spanish`, async () => {
        const world = await patient();
        const { outcome, decision } = await send(rules, world, variant);
        expect(outcome.actions[0]?.type).to.equal(action);
        expect(decision.facts['message.language']).to.equal('es');
      });
      it(`when a clinic lists only en and a patient sends ${JSON.stringify(variant)}, then it is an ordinary message for staff`, async () => {
        expect(await firstAction(variant, englishOnly)).to.equal('route-to-staff');
      });
    }
  }

  it('when a Spanish keyword is used, then the reply is the Spanish text', async () => {
    const world = await patient();
    const { outcome } = await send(rules, world, 'AYUDA');
    expect(outcome.reply).to.match(/^Downtown Family Clinic: mensajes sobre sus citas\./);
  });

  it('when a message only looks like a keyword inside a word, then it is not one', async () => {
    expect(await firstAction('STOPPED by the office yesterday')).to.equal('route-to-staff');
    expect(await firstAction('Helpful staff, thanks')).to.equal('route-to-staff');
  });

  it('when the keyword is not first, then it is not a keyword (the first word decides)', async () => {
    expect(await firstAction('Please STOP')).to.equal('route-to-staff');
  });

  it('when the message is empty or only an emoji, then there is no keyword and it goes to staff', async () => {
    const world = await patient();
    const { decision, outcome } = await send(rules, world, ' 👍 ');
    expect(decision.facts['message.keyword']).to.equal('');
    expect(outcome.actions.map((a) => a.type)).to.deep.equal(['route-to-staff']);
  });
});
