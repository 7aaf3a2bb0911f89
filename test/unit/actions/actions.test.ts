import { expect } from 'chai';
import { ACTIONS, getAction, type ActionContext } from '../../../src/actions/index.js';
import { appointmentStatus, type Appointment } from '../../../src/domain.js';
import { DEFAULT_SETTINGS } from '../../../src/rules/rules-file.js';
import { conversationOf } from '../../support/conversations.js';
import { OPEN_NOW, makeMessage, makeWorld, type World } from '../../support/rules-builders.js';

const future = new Date('2026-12-01T15:00:00Z');

function contextFor(world: World, overrides: Partial<ActionContext> = {}): ActionContext {
  let lookup: Promise<Appointment | null> | undefined;
  return {
    clinic: world.clinic,
    message: makeMessage('body text', { from: world.phone, media: [{ url: 'https://api.twilio.com/m/1', contentType: 'image/jpeg' }], numMedia: 1 }),
    patients: world.patients,
    optedOut: false,
    now: OPEN_NOW,
    receivedAt: OPEN_NOW,
    store: world.store,
    staff: world.staff,
    dryRun: false,
    ruleName: 'test-rule',
    params: {},
    keyword: 'BODY',
    nextAppointment: () => {
      lookup ??= world.store.findNextAppointment(
        world.clinic.id,
        world.patients.map((p) => p.id),
        OPEN_NOW,
      );
      return lookup;
    },
    command: '',
    choice: { pending: null, answer: '', chosen: [] },
    revocation: { value: 'none' },
    upcoming: () => world.store.findUpcomingAppointments(world.clinic.id, world.patients.map((p) => p.id), OPEN_NOW, new Date(OPEN_NOW.getTime() + 30 * 86_400_000)),
    settings: DEFAULT_SETTINGS,
    language: 'en',
    questionFits: () => true,
    ...overrides,
  };
}

async function run(name: string, ctx: ActionContext): Promise<{ outcome: string; appointment?: Appointment | null }> {
  const action = getAction(name);
  if (!action) {
    throw new Error(`no action ${name}`);
  }
  const result = await action.run(ctx);
  expect(action.outcomes).to.include(result.outcome);
  return result;
}

describe('actions registry', () => {
  it('when the registry is listed, then it holds exactly the documented actions', () => {
    expect([...ACTIONS.keys()]).to.deep.equal([
      'opt-out',
      'opt-in',
      'help',
      'safety',
      'confirm-appointment',
      'cancel-appointment',
      'reschedule-appointment',
      'ask-which-appointment',
      'route-to-staff',
      'reply-only',
      'no-reply',
    ]);
  });

  it('when opt-out runs, then the number (not a patient) is opted out with the message sid and keyword', async () => {
    const world = await makeWorld([{ firstName: 'Ana' }]);
    const ctx = contextFor(world);
    expect((await run('opt-out', ctx)).outcome).to.equal('opted-out');
    expect(await world.store.getOptOut(world.clinic.id, world.phone)).to.deep.include({
      optedOut: true,
      phone: world.phone,
      messageSid: ctx.message.messageSid,
      keyword: 'BODY',
    });
    expect((await run('opt-out', contextFor(world, { optedOut: true }))).outcome).to.equal('already-opted-out');
  });

  it('when opt-in runs, then the opt-out is cleared', async () => {
    const world = await makeWorld([]);
    await run('opt-out', contextFor(world));
    expect((await run('opt-in', contextFor(world, { optedOut: true }))).outcome).to.equal('opted-in');
    expect((await world.store.getOptOut(world.clinic.id, world.phone))?.optedOut).to.equal(false);
    expect((await run('opt-in', contextFor(world))).outcome).to.equal('already-opted-in');
  });

  it('when help, reply-only and no-reply run, then nothing is written', async () => {
    const world = await makeWorld([{ firstName: 'Ana' }]);
    expect((await run('help', contextFor(world))).outcome).to.equal('help');
    expect((await run('reply-only', contextFor(world))).outcome).to.equal('replied');
    expect((await run('no-reply', contextFor(world))).outcome).to.equal('no-reply');
    expect(world.routed).to.deep.equal([]);
    expect(await conversationOf(world.conversations, world.clinic.id, world.phone)).to.equal(null);
    expect(await world.store.getOptOut(world.clinic.id, world.phone)).to.equal(null);
  });

  it('when route-to-staff runs twice for one message (a replay), then the message with its media reaches one open conversation of the sender, waiting since it', async () => {
    const world = await makeWorld([{ firstName: 'Ana' }, { firstName: 'Ben' }]);
    const ctx = contextFor(world);
    await run('route-to-staff', ctx);
    await run('route-to-staff', ctx);
    expect(world.routed.map((r) => [r.reason, r.message.messageSid, r.message.media])).to.deep.equal([
      ['message', ctx.message.messageSid, [{ url: 'https://api.twilio.com/m/1', contentType: 'image/jpeg' }]],
      ['message', ctx.message.messageSid, [{ url: 'https://api.twilio.com/m/1', contentType: 'image/jpeg' }]],
    ]);
    const { conversations } = await world.conversations.list({ clinicId: world.clinic.id, limit: 10, now: OPEN_NOW });
    expect(conversations).to.have.length(1);
    expect(conversations[0]).to.deep.include({
      phone: world.phone,
      clinicNumber: ctx.message.to,
      status: 'open',
      waitingSince: OPEN_NOW,
      last: { at: OPEN_NOW, direction: 'inbound', preview: 'body text', media: 1 },
      patients: world.patients.map((p) => ({ id: p.id, displayName: `${p.firstName} Test` })),
    });
  });

  it('when confirm-appointment runs, then scheduled becomes confirmed and a second run reports already-confirmed', async () => {
    const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: future }] }]);
    const first = await run('confirm-appointment', contextFor(world));
    expect(first.outcome).to.equal('confirmed');
    expect(first.appointment?.patientResponse).to.deep.equal({ kind: 'confirmed', at: OPEN_NOW, messageSid: first.appointment?.patientResponse?.messageSid });
    expect(first.appointment && appointmentStatus(first.appointment)).to.equal('confirmed');
    expect((await run('confirm-appointment', contextFor(world))).outcome).to.equal('already-confirmed');
  });

  it('when cancel-appointment runs on a replay of the same message, then the replay finds the request its own (by MessageSid), another message is already-requested, and one cancel request naming the appointment reaches the open conversation', async () => {
    const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: future }] }]);
    const ctx = contextFor(world);
    const first = await run('cancel-appointment', ctx);
    expect(first.outcome).to.equal('cancel-requested');
    expect(first.appointment?.patientResponse?.messageSid).to.equal(ctx.message.messageSid);
    const replay = await getAction('cancel-appointment')!.run(contextFor(world, { message: ctx.message }));
    expect(replay.outcome).to.equal('cancel-requested');
    // What it was before the first attempt is not known on the replay.
    expect(replay.detail).to.deep.equal({ appointmentId: first.appointment?.id, from: null, to: 'cancel-requested' });
    expect((await run('cancel-appointment', contextFor(world))).outcome).to.equal('already-requested');
    // The replay routes its own message again (the first attempt may have stopped before it):
    // the same message, so the conversation holds one request, waiting since the first.
    const request = ['cancel-request', ctx.message.messageSid, first.appointment?.id];
    expect(world.routed.map((r) => [r.reason, r.message.messageSid, r.appointmentId])).to.deep.equal([request, request]);
    expect(first.appointment?.id).to.be.a('string');
    const { conversations } = await world.conversations.list({ clinicId: world.clinic.id, limit: 1000, now: OPEN_NOW });
    expect(conversations).to.have.length(1);
    expect(await conversationOf(world.conversations, world.clinic.id, world.phone, OPEN_NOW)).to.deep.include({ status: 'open', waitingSince: OPEN_NOW });
  });

  it('when reschedule-appointment meets a cancel request, then it reports change-pending and changes nothing', async () => {
    const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: future, status: 'cancel-requested' }] }]);
    const result = await run('reschedule-appointment', contextFor(world));
    expect(result.outcome).to.equal('change-pending');
    expect(result.appointment && appointmentStatus(result.appointment)).to.equal('cancel-requested');
    expect(world.routed).to.deep.equal([]);
    expect(await conversationOf(world.conversations, world.clinic.id, world.phone)).to.equal(null);
  });

  it('when confirm-appointment meets a soonest cancel request and a later scheduled appointment, then it reports change-pending and neither moves', async () => {
    const world = await makeWorld([
      { firstName: 'Ana', appointments: [{ id: 'a-soon', startsAt: future, status: 'cancel-requested' }, { id: 'a-later', startsAt: new Date('2026-12-08T15:00:00Z') }] },
    ]);
    const ctx = contextFor(world);
    const result = await run('confirm-appointment', ctx);
    expect(result.outcome).to.equal('change-pending');
    expect(result.appointment && appointmentStatus(result.appointment)).to.equal('cancel-requested');
    const stored = await Promise.all(['a-soon', 'a-later'].map((id) => world.store.getAppointment(id)));
    expect(stored.map((a) => a && appointmentStatus(a))).to.deep.equal(['cancel-requested', 'scheduled']);
  });

  it('when an appointment action runs in dry-run mode on an appointment already past its target, then it reports the blocked outcome', async () => {
    const world = await makeWorld([{ firstName: 'Ana', appointments: [{ id: 'a-1', startsAt: future, status: 'reschedule-requested' }] }]);
    expect((await run('confirm-appointment', contextFor(world, { dryRun: true }))).outcome).to.equal('change-pending');
    expect((await run('reschedule-appointment', contextFor(world, { dryRun: true }))).outcome).to.equal('already-requested');
    expect((await run('cancel-appointment', contextFor(world, { dryRun: true }))).outcome).to.equal('cancel-requested');
    expect(appointmentStatus((await world.store.getAppointment('a-1'))!)).to.equal('reschedule-requested');
  });

  it('when an appointment action runs in dry-run mode, then it reports the outcome without writing', async () => {
    const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: future }] }]);
    const result = await run('reschedule-appointment', contextFor(world, { dryRun: true }));
    expect(result.outcome).to.equal('reschedule-requested');
    expect(result.appointment && appointmentStatus(result.appointment)).to.equal('reschedule-requested');
    const stored = await world.store.findNextAppointment(world.clinic.id, [world.patients[0]!.id], OPEN_NOW);
    expect(stored).to.include({ status: 'scheduled' }).and.not.have.property('patientResponse');
    expect(world.routed).to.deep.equal([]);
    expect(await conversationOf(world.conversations, world.clinic.id, world.phone)).to.equal(null);
    await run('opt-out', contextFor(world, { dryRun: true }));
    expect(await world.store.getOptOut(world.clinic.id, world.phone)).to.equal(null);
  });

  it('when the appointment changed between the look-up and the update, then the outcome reflects the state now', async () => {
    const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: future }] }]);
    const ctx = contextFor(world);
    await ctx.nextAppointment(); // cached as scheduled
    await world.store.advanceNextAppointment(world.clinic.id, [world.patients[0]!.id], OPEN_NOW, 'confirmed', { at: OPEN_NOW, messageSid: 'SMother' });
    expect((await run('confirm-appointment', ctx)).outcome).to.equal('already-confirmed');
  });

  it('when a shared phone has appointments for two patients, then the soonest among them is the one changed', async () => {
    const world = await makeWorld([
      { firstName: 'Carla', appointments: [{ startsAt: new Date('2026-12-09T15:00:00Z') }] },
      { firstName: 'Dylan', appointments: [{ startsAt: new Date('2026-12-02T15:00:00Z') }] },
    ]);
    const result = await run('confirm-appointment', contextFor(world));
    expect(result.appointment?.patientId).to.equal(world.patients[1]!.id);
  });
});
