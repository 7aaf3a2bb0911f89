import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { startService, type RunningService } from '../../src/main.js';
import { reloadRules } from '../../src/process/rules-reload.js';
import { formatAppointmentTime } from '../../src/rules/local-time.js';
import { FIXTURE_RULES_DIR } from '../support/fixture-rules.js';
import { fixtureServiceEnv } from '../support/service-env.js';
import { FIXTURE_STAFF_FILE } from '../support/staff-auth-app.js';
import { signInAs } from '../support/staff-session.js';
import { WEBHOOK_PATH, addPatient, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';

/** The quick replies the composer of a page offers: shortcode -> filled text. */
function quickRepliesOf(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<dd data-shortcode="([^"]+)">([^<]*)<\/dd>/g)) {
    out[m[1]!] = m[2]!.replace(/&#39;/g, "'").replace(/&amp;/g, '&');
  }
  return out;
}

describe('quick replies from the rules YAML on the staff pages (running service, real sign-in)', function () {
  this.timeout(30_000);
  let dir: string;
  let rulesDir: string;
  let service: RunningService;
  let cookie: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staff-quick-replies-'));
    rulesDir = join(dir, 'rules');
    await cp(FIXTURE_RULES_DIR, rulesDir, { recursive: true });
    service = await startService(fixtureServiceEnv({ SPOOL_DIR: join(dir, 'spool'), MEDIA_DIR: join(dir, 'media'), STAFF_FILE: FIXTURE_STAFF_FILE, RULES_DIR: rulesDir }));
    cookie = await signInAs(service.app.callback(), 'maria@downtown.example');
  });

  after(async () => {
    await service?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const web = () => request(service.app.callback());

  /** A conversation of a Spanish-speaking patient with an appointment in 3 days: its page's path. */
  async function spanishPatientThread(): Promise<{ path: string; startsAt: Date }> {
    const phone = uniquePhone();
    const startsAt = new Date(Date.now() + 3 * 86_400_000);
    await addPatient(service.store, { phone, firstName: 'Dylan', lastName: 'Park', language: 'es' }, [{ startsAt, provider: 'Dr. Lee' }]);
    const { body, signature } = signedRequest(inboundParams({ From: phone, Body: '¿Puedo llevar a mi hija?' }));
    expect((await web().post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(body)).status).to.equal(200);
    const { conversations } = await service.conversations.list('downtown', { q: phone, limit: 5 });
    expect(conversations).to.have.length(1);
    return { path: `/staff/clinics/downtown/conversations/${conversations[0]!.id}`, startsAt };
  }

  it('when a thread opens, then the composer offers the clinic\'s quick replies filled for the patient, in the patient\'s language', async () => {
    const { path, startsAt } = await spanishPatientThread();
    const res = await web().get(path).set('Cookie', cookie);
    expect(res.status).to.equal(200);
    expect(quickRepliesOf(res.text)).to.deep.equal({
      'call-us': 'Hola Dylan, le escribe Downtown Family Clinic. Llámenos al (312) 555-0199 cuando pueda.',
      'next-visit': `Hola Dylan, su próxima cita es el ${formatAppointmentTime(startsAt, 'America/Chicago', 'es')} con Dr. Lee.`,
      'bring-id': `Please bring your insurance card and a photo ID to your visit on ${new Intl.DateTimeFormat('en-US', { timeZone: 'America/Chicago', weekday: 'long', month: 'long', day: 'numeric' }).format(startsAt)}.`,
    });
  });

  it('when the rules reload with a changed quick reply, then the next page offers it; a reload with a bad quick reply is refused and the last good ones stay', async () => {
    const { path } = await spanishPatientThread();
    const file = join(rulesDir, 'clinics', 'downtown.yaml');
    const original = await readFile(file, 'utf8');
    const reload = () => reloadRules({ config: service.config, env: fixtureServiceEnv({}), live: service.live, logger: service.logger, metrics: service.metrics });

    await writeFile(file, original.replace('  - shortcode: bring-id\n', '  - shortcode: parking\n    text: "Free parking behind {{clinic.name}}."\n  - shortcode: bring-id\n'));
    expect((await reload()).status).to.equal('ok');
    const after = quickRepliesOf((await web().get(path).set('Cookie', cookie)).text);
    expect(Object.keys(after)).to.deep.equal(['call-us', 'next-visit', 'parking', 'bring-id']);
    expect(after.parking).to.equal('Free parking behind Downtown Family Clinic.');

    await writeFile(file, original.replace('shortcode: bring-id', 'shortcode: Bring ID'));
    const refused = await reload();
    expect(refused.status, 'downtown keeps its last good rules').to.equal('partial');
    const findings = refused.status === 'ok' ? [] : refused.findings.map((f) => `${f.file}:${f.line}:${f.col}: ${f.message}`);
    expect(findings.join('\n')).to.match(/clinics\/downtown\.yaml:\d+:16: quickReplies\[2\].shortcode: "Bring ID" is not a shortcode/);
    expect(Object.keys(quickRepliesOf((await web().get(path).set('Cookie', cookie)).text)), 'the last good rules stay live').to.deep.equal(['call-us', 'next-visit', 'parking', 'bring-id']);
  });
});
