import { expect } from 'chai';
import { runCli } from '../../../src/cli/index.js';
import type { CliIO } from '../../../src/cli/io.js';
import { loadClinicsFile, type ClinicsFile } from '../../../src/config/clinics-file.js';
import type { CompiledRules } from '../../../src/rules/compile.js';
import { loadRules } from '../../../src/rules/load-rules.js';
import { NO_STAFF_WRITES, formatSimulation, readOnly, simulate, simulateFromEnv } from '../../../src/admin/simulate.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';

const RULES = 'test/fixtures/rules-check/good';
const CLINICS = 'test/fixtures/rules-check/clinics.yaml';
const SEED = 'test/fixtures/rules-simulate/seed.yaml';
const ANA = '+13125550111';

describe('rules simulate', () => {
  let clinics: ClinicsFile;
  let rules: Map<string, CompiledRules>;
  let store: MemoryStore;

  beforeEach(async () => {
    clinics = await loadClinicsFile(CLINICS);
    rules = await loadRules({ rulesDir: RULES, clinics: clinics.clinics });
    store = new MemoryStore();
    await store.upsertPatients([{ id: 'p-1', clinicId: 'alpha', firstName: 'Ana', lastName: 'Diaz', phone: ANA }]);
    await store.upsertAppointments([{ id: 'a-1', clinicId: 'alpha', patientId: 'p-1', startsAt: new Date('2030-01-10T15:30:00Z'), status: 'scheduled' }]);
  });

  it('when a keyword matches, then it shows the facts, the matched rule, the rules not run and why, the dry-run action, reply and TwiML', async () => {
    const sim = await simulate({ clinics, rules, store, clinicId: 'alpha', from: '(312) 555-0111', body: 'Confirm!', at: '2030-01-09 10:00' });
    expect(sim.facts).to.include({ 'message.command': 'CONFIRM', 'message.keyword': 'CONFIRM', 'patients.known': true, 'time.weekday': 'wed', 'time.hour': 10 });
    expect(sim.rules.map((r) => [r.name, r.result])).to.deep.equal([
      ['opt-out', 'not run'],
      ['opt-in', 'not run'],
      ['help', 'not run'],
      ['confirm', 'matched'],
      ['to-staff', 'not run'],
    ]);
    expect(sim.rules[0]?.why).to.deep.equal(['the message has none of its keywords (STOP)']);
    expect(sim.rules[4]?.why).to.deep.equal(['a higher-priority rule halted: confirm']);
    expect(sim.rules[3]?.source).to.equal(`${RULES}/default.yaml:37:5`);
    expect(sim.actions).to.deep.equal([{ rule: 'confirm', action: 'confirm-appointment', outcome: 'confirmed', detail: { appointmentId: 'a-1', from: 'scheduled', to: 'confirmed' } }]);
    expect(sim.reply).to.equal('Ana, your visit on Thu, Jan 10, 9:30 AM CST is confirmed.');
    expect(sim.twiml).to.equal('<?xml version="1.0" encoding="UTF-8"?><Response><Message>Ana, your visit on Thu, Jan 10, 9:30 AM CST is confirmed.</Message></Response>');
    expect(sim.sender.nextAppointment).to.deep.equal({ id: 'a-1', patientId: 'p-1', startsAt: '2030-01-10T15:30:00.000Z', status: 'scheduled' });
  });

  it('when actions run in a simulation, then nothing is written', async () => {
    await simulate({ clinics, rules, store, clinicId: 'alpha', from: ANA, body: 'STOP', at: '2030-01-09 10:00' });
    await simulate({ clinics, rules, store, clinicId: 'alpha', from: ANA, body: 'CONFIRM', at: '2030-01-09 10:00' });
    const question = await simulate({ clinics, rules, store, clinicId: 'alpha', from: ANA, body: 'question', at: '2030-01-09 10:00' });
    expect((await store.getAppointment('a-1'))?.status).to.equal('scheduled');
    expect(await store.getOptOut('alpha', ANA)).to.equal(null);
    // Routed in the dry run only: the staff port simulate gives the actions refuses every write.
    expect(question.actions.map((a) => `${a.action}:${a.outcome}`)).to.deep.equal(['route-to-staff:routed']);
  });

  it('when a rule is run but fails, then each failing condition is shown with the fact value', async () => {
    const sim = await simulate({ clinics, rules, store, clinicId: 'alpha', from: '+13125550999', body: 'hello', at: '2030-01-09 10:00' });
    const toStaff = sim.rules.find((r) => r.name === 'to-staff');
    expect(toStaff).to.include({ result: 'not matched' });
    expect(toStaff?.why).to.deep.equal(['patients.known equal true (was false)']);
    expect(sim.status).to.equal('unknown-number');
    expect(sim.reply).to.equal(null);
    expect(sim.twiml).to.equal('<?xml version="1.0" encoding="UTF-8"?><Response/>');
  });

  it('when the number is opted out, then the simulation says so and answers only consent and help', async () => {
    await store.setOptOut({ clinicId: 'alpha', phone: ANA, optedOut: true, changedAt: new Date('2030-01-01T00:00:00Z') });
    const sim = await simulate({ clinics, rules, store, clinicId: 'alpha', from: ANA, body: 'question', at: '2030-01-09 10:00' });
    expect(sim.sender.optedOut).to.equal(true);
    expect(sim.reply).to.equal(null);
    expect(sim.notes[0]).to.match(/opted out/);
  });

  it('when the store is wrapped read-only, then every write is refused, and so is a message to staff', async () => {
    const ro = readOnly(store);
    await expect(ro.setOptOut({ clinicId: 'alpha', phone: ANA, optedOut: true, changedAt: new Date() })).to.be.rejectedWith(/must not write \(setOptOut\)/);
    await expect(NO_STAFF_WRITES.routed({} as never)).to.be.rejectedWith(/must not write \(routed to staff\)/);
    expect(await ro.findPatientsByPhone('alpha', ANA)).to.have.length(1);
  });

  it('when the clinic, number or time is wrong, then it says which', async () => {
    await expect(simulate({ clinics, rules, store, clinicId: 'omega', from: ANA, body: 'x' })).to.be.rejectedWith('no clinic "omega" (clinics: alpha, beta)');
    await expect(simulate({ clinics, rules, store, clinicId: 'alpha', from: 'abc', body: 'x' })).to.be.rejectedWith('--from "abc" is not a phone number');
    await expect(simulate({ clinics, rules, store, clinicId: 'alpha', from: ANA, body: 'x', at: 'tomorrow' })).to.be.rejectedWith(/--at "tomorrow"/);
  });

  it('when printed, then the admin sees each section and the sender number masked', async () => {
    const sim = await simulate({ clinics, rules, store, clinicId: 'alpha', from: ANA, body: 'CONFIRM', at: '2030-01-09 10:00' });
    const text = formatSimulation(sim);
    expect(text).to.include('message  from ***11 to +13125550400 at 2030-01-09T16:00:00.000Z (wed 10:00 America/Chicago)');
    expect(text).to.include('  MATCH confirm (priority 50, halts, confirm-appointment) test/fixtures/rules-check/good/default.yaml:37:5');
    expect(text).to.include('  skip  opt-out (priority 100, halts, opt-out) test/fixtures/rules-check/good/default.yaml:16:5\n          not run: the message has none of its keywords (STOP)');
    expect(text).to.include('actions (dry run: nothing written)\n  confirm-appointment -> confirmed (rule confirm)');
    expect(text).not.to.include(ANA);
  });

  it('when run from the environment without MONGODB_URI, then patients come from SEED_FILE in an embedded store', async () => {
    const sim = await simulateFromEnv({ env: {}, rulesDir: RULES, clinicsFile: CLINICS, seedFile: SEED, clinicId: 'alpha', from: ANA, body: 'yes', at: '2030-01-09 10:00' });
    expect(sim.sender.patients).to.deep.equal([{ id: 'p-1', firstName: 'Ana' }]);
    expect(sim.notes[0]).to.equal(`patients and appointments from ${SEED} (SEED_FILE) in an embedded store`);
    expect(sim.actions.map((a) => `${a.action}:${a.outcome}`)).to.deep.equal(['opt-in:already-opted-in']);
  });

  it('when called from the CLI, then it prints the simulation and exits 0; missing options exit 2', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIO = { env: { RULES_DIR: RULES, CLINICS_FILE: CLINICS, SEED_FILE: SEED }, cwd: process.cwd(), out: (l) => out.push(l), err: (l) => err.push(l) };
    expect(await runCli(['rules', 'simulate', '--clinic', 'alpha', '--from', ANA, '--body', 'HELP', '--at', '2030-01-09 10:00'], io)).to.equal(0);
    expect(out.join('\n')).to.include('reply    "Alpha Clinic: appointment texts. Call (312) 555-0499. Reply STOP to stop."');
    expect(await runCli(['rules', 'simulate', '--clinic', 'alpha'], io)).to.equal(2);
    expect(err[0]).to.equal('error: rules simulate needs --clinic, --from and --body');
  });
});
