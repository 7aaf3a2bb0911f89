import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { simulate, formatSimulation } from '../../../src/admin/simulate.js';
import { compileClinicRules, parseRulesFile } from '../../../src/rules/load-rules.js';
import { normalizeText } from '../../../src/rules/normalize.js';
import { readRevocation } from '../../../src/rules/revocation.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { RULES_DIR, compileFromText, makeClinic } from '../../support/rules-builders.js';

const DEFAULTS = readFileSync(join(RULES_DIR, 'default.yaml'), 'utf8');

describe('plain-language opt-outs (message.revocation)', () => {
  const rules = compileFromText(DEFAULTS, null);

  it('when a clear phrase sits inside a revocation-not phrase, then it does not count; elsewhere it does', () => {
    expect(readRevocation(normalizeText("Please don't stop texting me reminders"), rules.phraseLists)).to.deep.equal({ value: 'none' });
    expect(readRevocation(normalizeText('Wrong number. Stop texting!'), rules.phraseLists)).to.deep.equal({ value: 'clear', phrase: 'STOP TEXTING', list: 'revocation-clear', language: 'en' });
    expect(readRevocation(normalizeText('¿Quién es? Basta'), rules.phraseLists)).to.include({ value: 'possible', phrase: 'BASTA', language: 'es' });
  });

  it('when a clinic adds phrases to the lists, then they count for it', () => {
    const clinic = compileFromText(DEFAULTS, 'phrases:\n  revocation-clear:\n    en: [quit bugging me]\n  revocation-not:\n    en: [stop the infusion]\n');
    expect(readRevocation('PLEASE QUIT BUGGING ME', clinic.phraseLists).value).to.equal('clear');
    expect(readRevocation('CAN WE STOP THE INFUSION EARLY', clinic.phraseLists).value).to.equal('none');
    expect(readRevocation('CAN WE STOP THE INFUSION EARLY', rules.phraseLists).value).to.equal('possible');
  });

  it('when a revocation phrase holds a keyword other than STOP or an appointment word, then rules check refuses it at its place', () => {
    const defaults = parseRulesFile(DEFAULTS, 'rules/default.yaml', 'default');
    const clinicFile = parseRulesFile('phrases:\n  revocation-clear:\n    en: [cancel my appointment, no more visits]\n  revocation-possible: [help me stop]\n', 'rules/clinics/downtown.yaml', 'clinic');
    const result = compileClinicRules(defaults, clinicFile, makeClinic());
    expect(result.rules).to.equal(null);
    expect(result.findings.map((f) => `${f.line}:${f.col}: ${f.message}`)).to.deep.equal([
      '3:10: phrases.revocation-clear: "CANCEL MY APPOINTMENT" also matches the CANCEL keyword\'s variant "CANCEL": a message about that would count as an opt-out (use a phrase without it)',
      '3:33: phrases.revocation-clear: "NO MORE VISITS" also matches the appointment word "VISITS": a message about that would count as an opt-out (use a phrase without it)',
      '4:25: phrases.revocation-possible: "HELP ME STOP" also matches the HELP keyword\'s variant "HELP": a message about that would count as an opt-out (use a phrase without it)',
    ]);
  });

  it('when simulate runs a plain-language opt-out, then it names the phrase, its list and language', async () => {
    const clinic = makeClinic();
    const sim = await simulate({
      clinics: { byId: new Map([[clinic.id, clinic]]), byNumber: new Map(), clinics: [clinic] } as never,
      rules: new Map([[clinic.id, rules]]),
      store: new MemoryStore(),
      clinicId: clinic.id,
      from: '+13125550111',
      body: 'No me manden más mensajes',
      at: '2026-11-10 10:00',
    });
    expect(sim.revocation).to.deep.equal({ value: 'clear', phrase: 'NO ME MANDEN MAS', list: 'revocation-clear', language: 'es' });
    expect(sim.actions.map((a) => `${a.action}:${a.detail?.via ?? ''}`)).to.deep.equal(['opt-out:phrase']);
    expect(formatSimulation(sim)).to.include('optout   clear: phrase "NO ME MANDEN MAS" of revocation-clear (es)');
  });
});
