/**
 * What the embedded store keeps per message: heap (after a full GC) per completed audit
 * record of the usual shape. The sustained run compares its heap growth per request
 * with this, to tell what the store keeps by design from a leak.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { MessageRecord } from '../../src/domain.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { parseForm } from '../../src/twilio/form-params.js';
import { toInboundMessage } from '../../src/twilio/inbound-message.js';
import { createRequestMix, type MixTarget } from './request-mix.js';

function getGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Bytes of heap per stored message record.
 * @param target - a mix target, for realistic bodies
 * @param count - records to store
 */
export async function bytesPerStoredMessage(target: MixTarget, count = 20_000): Promise<number> {
  const gc = getGc();
  const mix = createRequestMix(target, { seed: 3, shares: { duplicate: 0 } });
  const store = new MemoryStore();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) {
    const req = mix.next();
    const message = toInboundMessage(parseForm(req.body));
    const record: MessageRecord = {
      messageSid: req.messageSid,
      clinicId: 'clinic-0000',
      message,
      receivedAt: new Date(),
      status: 'received',
      patientIds: [],
      rulesFired: [],
      actions: [],
      reply: null,
      via: 'webhook',
    };
    await store.claimMessage(record);
    await store.completeMessage(req.messageSid, {
      status: 'processed',
      patientIds: ['p-clinic-0000-12'],
      rulesFired: ['confirm-appointment'],
      actions: [{ type: 'confirm-appointment', outcome: 'confirmed', ruleName: 'confirm-appointment', detail: { appointmentId: 'a-clinic-0000-12', from: 'scheduled', to: 'confirmed' } }],
      reply: "Thank you. Pat12's appointment on Tue, Dec 1, 9:00 AM CST is confirmed.",
      completedAt: new Date(),
      timings: { totalMs: 1.23, storeMs: 0.2, rulesMs: 0.8 },
    });
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  await store.close();
  return Math.round((after - before) / count);
}
