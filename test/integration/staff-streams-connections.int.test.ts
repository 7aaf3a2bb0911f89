import net from 'node:net';
import { expect } from 'chai';
import { startStaffService, type RunningStaffService } from '../support/staff-service.js';
import { signInAs } from '../support/staff-session.js';

const CAP = 5;

/** A raw connection that sends nothing; resolves false when the server closes it within `ms`. */
async function idleConnectionKept(port: number, ms: number): Promise<{ socket: net.Socket; kept: Promise<boolean> }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const kept = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(!socket.destroyed), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  return { socket, kept };
}

/**
 * MAX_CONNECTIONS_PER_ADDRESS against the staff pages' live streams: a clinic's tabs share one
 * address (its router or proxy), each holding a stream for hours. Signed-in streams give their
 * slot back, so many tabs do not lock the desk out; anonymous connections keep the cap.
 */
describe('live streams and the per-address connection cap (running service, real sign-in)', function () {
  this.timeout(30_000);
  let app: RunningStaffService;
  const aborts: AbortController[] = [];
  const sockets: net.Socket[] = [];

  before(async () => {
    app = await startStaffService({ env: {}, dispose: async () => undefined }, { MAX_CONNECTIONS_PER_ADDRESS: String(CAP) });
  });

  after(async () => {
    aborts.forEach((a) => a.abort());
    sockets.forEach((s) => s.destroy());
    await app?.stop();
  });

  it(`when one address holds ${CAP * 3} signed-in streams (cap ${CAP}), then all stay open and its pages still load; anonymous connections past the cap are still closed`, async () => {
    const cookie = await signInAs(app.service.app.callback(), 'maria@downtown.example');
    const streams: ReadableStreamDefaultReader<Uint8Array>[] = [];
    for (let i = 0; i < CAP * 3; i += 1) {
      const controller = new AbortController();
      aborts.push(controller);
      const res = await fetch(`${app.baseUrl}/staff/clinics/downtown/events`, { headers: { Cookie: cookie, Accept: 'text/event-stream' }, signal: controller.signal });
      expect(res.status, `stream ${i + 1}`).to.equal(200);
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect(Buffer.from(first.value!).toString('utf8')).to.include(': connected');
      streams.push(reader);
    }
    expect(app.service.pages.hub.size).to.equal(CAP * 3);

    // The desk's other requests from the same address go through (new connections each).
    for (let i = 0; i < CAP; i += 1) {
      const page = await fetch(`${app.baseUrl}/staff/clinics/downtown`, { headers: { Cookie: cookie, Connection: 'close' } });
      expect(page.status).to.equal(200);
      await page.text();
    }

    // Connections that sign nothing in still count: CAP held, the next one is closed.
    const { port } = new URL(app.baseUrl);
    const held = [];
    for (let i = 0; i < CAP; i += 1) {
      const c = await idleConnectionKept(Number(port), 300);
      sockets.push(c.socket);
      held.push(c);
    }
    const extra = await idleConnectionKept(Number(port), 300);
    sockets.push(extra.socket);
    expect(await Promise.all(held.map((c) => c.kept))).to.deep.equal(Array(CAP).fill(true));
    expect(await extra.kept, `connection ${CAP + 1} without a session`).to.equal(false);

    // A stream asked for without a session is refused (401) and never leaves the count.
    const anonymous = await fetch(`${app.baseUrl}/staff/clinics/downtown/events`, { headers: { Accept: 'text/event-stream', Connection: 'close' } }).then(
      (r) => r.status,
      () => 'closed',
    );
    expect(anonymous, 'the cap is full of anonymous connections').to.equal('closed');
    expect(app.service.pages.hub.size).to.equal(CAP * 3);
  });
});
