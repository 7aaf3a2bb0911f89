import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileClinicRules, parseRulesFile, type CompiledRules } from '../../../src/rules/load-rules.js';
import { normalizeText } from '../../../src/rules/normalize.js';
import { findPhrase, hasPhrase, matchPhraseLists } from '../../../src/rules/phrases.js';
import { OPEN_NOW, RULES_DIR, compileFromText, makeClinic, makeWorld, send } from '../../support/rules-builders.js';

const DEFAULTS = readFileSync(join(RULES_DIR, 'default.yaml'), 'utf8');

/** The findings of a clinic file over the shipped defaults, as file:line:col: message. */
function findingsOf(clinicYaml: string, clinic = makeClinic()): string[] {
  const defaults = parseRulesFile(DEFAULTS, 'rules/default.yaml', 'default');
  const result = compileClinicRules(defaults, parseRulesFile(clinicYaml, 'rules/clinics/downtown.yaml', 'clinic'), clinic);
  return result.findings.map((f) => `${f.file}:${f.line}:${f.col}: ${f.message}`);
}

async function firedRules(rules: CompiledRules, body: string): Promise<string[]> {
  const world = await makeWorld([{ firstName: 'Ana' }], { clinic: rules.clinic });
  const { decision } = await send(rules, world, body, { now: OPEN_NOW });
  return decision.events.map((e) => e.ruleName);
}

const EMERGENCY = `
phrases:
  emergency:
    en: [chest pain, "can't breathe", cant breath, trouble breathing]
    es: [dolor de pecho, no puedo respirar]
rules:
  - name: emergency
    priority: 95
    halt: true
    conditions:
      all:
        - { fact: message.text, operator: containsPhraseFrom, value: emergency }
    event: { type: route-to-staff, params: { reply: call-911 } }
  - name: emergency-unknown
    priority: 96
    conditions:
      all:
        - { fact: patients.known, operator: equal, value: false }
        - { fact: message.text, operator: containsPhraseFrom, value: [emergency] }
    event: { type: reply-only, params: { reply: call-911 } }
templates:
  call-911: "If this is an emergency, call 911 now."
`;

describe('phrases: containsPhrase, containsPhraseFrom and named phrase lists', () => {
  it('when texts are compared, then the one normalizer ignores case, accents, punctuation and spaces, and phrases match whole words only', () => {
    const text = normalizeText('  I have CHEST   pain!! and Dolor de PÉCHO ');
    expect(text).to.equal('I HAVE CHEST PAIN AND DOLOR DE PECHO');
    expect(hasPhrase(text, 'CHEST PAIN')).to.equal(true);
    expect(hasPhrase(text, 'DOLOR DE PECHO')).to.equal(true);
    expect(hasPhrase(text, 'HEST PAIN')).to.equal(false);
    expect(hasPhrase(text, 'PAIN AN')).to.equal(false);
    expect(hasPhrase(normalizeText('nothing to report'), 'NO')).to.equal(false);
    expect(hasPhrase(text, '')).to.equal(false);
  });

  it('when "chest pain" is a phrase, then "no emergency, just a question about chest X-rays and pain" does not match and "cant breath" matches its own phrase', async () => {
    const rules = compileFromText(DEFAULTS, EMERGENCY);
    expect(await firedRules(rules, 'I have chest pain')).to.deep.equal(['emergency']);
    expect(await firedRules(rules, 'Chest Pain!')).to.deep.equal(['emergency']);
    expect(await firedRules(rules, 'cant breath')).to.deep.equal(['emergency']);
    expect(await firedRules(rules, "I can't breathe")).to.deep.equal(['emergency']);
    expect(await firedRules(rules, 'no emergency, just a question about chest X-rays and pain')).to.deep.equal(['message-to-staff']);
  });

  it('when a list is named in two rules, then both use it, and its Spanish phrases count only for a clinic that lists es', async () => {
    const bilingual = compileFromText(DEFAULTS, EMERGENCY);
    const english = compileFromText(DEFAULTS, EMERGENCY, makeClinic({ languages: ['en'] }));
    expect(await firedRules(bilingual, 'tengo DOLOR DE PECHO')).to.deep.equal(['emergency']);
    expect(await firedRules(english, 'tengo DOLOR DE PECHO')).to.deep.equal(['message-to-staff']);
    // The second rule, for unknown numbers, uses the same list.
    const world = await makeWorld([], { clinic: bilingual.clinic });
    const { decision, outcome } = await send(bilingual, world, 'no puedo respirar', { unknown: true });
    expect(decision.events.map((e) => e.ruleName)).to.deep.equal(['emergency-unknown', 'emergency']);
    expect(outcome.reply).to.equal('If this is an emergency, call 911 now.');
    expect(english.phraseLists.get('emergency')?.entries.map((e) => e.language)).to.deep.equal(['en', 'en', 'en', 'en']);
  });

  it('when a clinic file lists phrases under a default list\'s name, then they are added to it', () => {
    // Under the shipped file's own phrases: key (it holds the revocation lists).
    const defaults = DEFAULTS.replace('\nphrases:\n', '\nphrases:\n  thanks: [thank you, thanks]\n');
    const rules = compileFromText(defaults, 'phrases:\n  thanks: [muchas gracias, thank you]\n');
    expect(rules.phraseLists.get('thanks')?.entries.map((e) => e.phrase)).to.deep.equal(['THANK YOU', 'THANKS', 'MUCHAS GRACIAS']);
    expect(matchPhraseLists(normalizeText('Muchas gracias!'), rules.phraseLists, ['nope', 'thanks'])).to.deep.equal({ list: 'thanks', phrase: 'MUCHAS GRACIAS', language: '*' });
    expect(findPhrase('THANKSGIVING', rules.phraseLists.get('thanks')!)).to.equal(null);
  });

  it('when a phrase is written in a condition, then containsPhrase matches it written any way, and not:containsPhrase negates it', async () => {
    const rules = compileFromText(
      DEFAULTS,
      `rules:
  - name: parking
    priority: 95
    halt: true
    conditions:
      all:
        - { fact: message.text, operator: containsPhrase, value: [Where do I park?, "parking lot"] }
        - { fact: message.text, operator: "not:containsPhrase", value: no thanks }
    event: { type: reply-only, params: { reply: parking } }
templates:
  parking: "Park in the lot behind the building."
`,
    );
    expect(await firedRules(rules, 'hi, WHERE DO I PARK')).to.deep.equal(['parking']);
    expect(await firedRules(rules, 'is the parking-lot open')).to.deep.equal(['message-to-staff']);
    expect(await firedRules(rules, 'the parking lot, no thanks')).to.deep.equal(['message-to-staff']);
    expect(rules.rules.find((r) => r.name === 'parking')?.definition.conditions).to.deep.include({
      all: [
        { fact: 'message.text', operator: 'containsPhrase', value: ['WHERE DO I PARK', 'PARKING LOT'] },
        { fact: 'message.text', operator: 'not:containsPhrase', value: 'NO THANKS' },
      ],
    });
  });

  it('when phrases are misused, then rules check names each mistake at file:line:col', () => {
    const found = findingsOf(`phrases:
  emergency: [chest pain, "!!", Chest Pain]
  bad: { en: [] }
rules:
  - name: a
    conditions:
      all:
        - { fact: message.text, operator: containsPhraseFrom, value: emergncy }
        - { fact: message.words, operator: containsPhrase, value: chest pain }
        - { fact: message.words, operator: contains, value: CHEST PAIN }
        - { fact: message.text, operator: containsPhrase, value: 3 }
    event: { type: route-to-staff }
`);
    expect(found).to.deep.equal([
      'rules/clinics/downtown.yaml:2:27: phrases.emergency[1]: "!!" has no letters or digits',
      'rules/clinics/downtown.yaml:2:33: phrases.emergency[2]: "CHEST PAIN" is already in this list',
      'rules/clinics/downtown.yaml:3:8: phrases.bad: expected a list of phrases, or a map of language to a list of phrases (en: [...], es: [...])',
      'rules/clinics/downtown.yaml:9:19: rules[0].conditions.all[1]: containsPhrase works on message.text (the whole message, normalized), not on message.words',
      'rules/clinics/downtown.yaml:10:61: rules[0].conditions.all[2]: "CHEST PAIN" can never match: message.words holds single words; for words in a row write { fact: message.text, operator: containsPhrase, value: "chest pain" }',
      'rules/clinics/downtown.yaml:11:66: rules[0].conditions.all[3]: message.text containsPhrase: expected a phrase or a list of phrases',
      'rules/clinics/downtown.yaml:8:70: rules[0]: unknown phrase list "emergncy" (did you mean "emergency"?) (defined: bad, emergency, revocation-clear, revocation-not, revocation-possible)',
    ]);
  });

  it('when YAML anchors and aliases are used in one file, then they work; a merge key (<<) is refused as an unknown field', async () => {
    const rules = compileFromText(
      DEFAULTS,
      `rules:
  - name: emergency
    priority: 95
    halt: true
    conditions: &emergency
      any:
        - { fact: message.text, operator: containsPhrase, value: [chest pain, cant breathe] }
    event: { type: route-to-staff, params: { reply: call-911 } }
  - name: emergency-unknown
    priority: 96
    conditions: *emergency
    event: { type: reply-only, params: { reply: call-911 } }
templates:
  call-911: "If this is an emergency, call 911 now."
`,
    );
    expect(rules.rules.find((r) => r.name === 'emergency-unknown')?.definition.conditions).to.deep.equal(
      rules.rules.find((r) => r.name === 'emergency')?.definition.conditions,
    );
    expect(await firedRules(rules, 'chest pain')).to.deep.equal(['emergency-unknown', 'emergency']);
    const merged = findingsOf(`rules:
  - &base
    name: a
    conditions: { all: [{ fact: patients.known, operator: equal, value: true }] }
    event: { type: route-to-staff }
  - <<: *base
    name: b
`);
    expect(merged.join('\n')).to.contain('rules/clinics/downtown.yaml:6:5: rules[1]: unknown field "<<"');
  });
});
