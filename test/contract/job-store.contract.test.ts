import type { AttemptResult, EventDelivery } from '../../src/events/outbox-store.js';
import type { MediaRecord, MediaUpdate } from '../../src/media/media-store.js';
import { aDelivery } from '../support/event-builders.js';
import { eventStoreKinds } from '../support/event-store-kinds.js';
import { aMediaRecord } from '../support/media-builders.js';
import { mediaKinds } from '../support/media-kinds.js';
import { describeJobStoreContract, type JobKind } from './job-store.contract.js';
import { newClinicId } from './store-fixtures.js';

/** Events deliveries: due while pending; a lease's exclude names endpoints. */
const deliveries: JobKind<EventDelivery, AttemptResult> = {
  keyed: true,
  job: (due, key) => {
    const d = aDelivery({ clinicId: newClinicId() });
    return { ...d, nextAttemptAt: due, ...(key === undefined ? {} : { endpointId: key }) };
  },
  done: (job, at) => ({ status: 'delivered', attempts: job.attempts + 1, at, lastStatus: 200 }),
  retryAt: (job, at) => ({ status: 'pending', attempts: job.attempts + 1, at: job.nextAttemptAt, nextAttemptAt: at, lastStatus: 503 }),
};

/** Media records: due while work is left. */
const media: JobKind<MediaRecord, MediaUpdate> = {
  keyed: false,
  job: (due) => aMediaRecord({ clinicId: newClinicId(), nextAttemptAt: due }),
  done: (job) => ({ state: 'failed', work: 'none', attempts: job.attempts + 1, nextAttemptAt: job.nextAttemptAt, reason: 'test' }),
  retryAt: (job, at) => ({ state: 'pending', work: 'fetch', attempts: job.attempts + 1, nextAttemptAt: at, lastError: 'HTTP 503' }),
};

for (const kind of eventStoreKinds()) {
  describeJobStoreContract(`events deliveries, ${kind.name}`, deliveries, async () => {
    const made = await kind.make();
    return made ? { store: made.store, another: () => made.another(), dispose: () => made.dispose() } : null;
  });
}

for (const kind of mediaKinds('jobs_contract')) {
  describeJobStoreContract(`media records, ${kind.name}`, media, async () => {
    const made = await kind.make();
    return made ? { store: made.media, another: () => made.reopen(), dispose: () => made.dispose() } : null;
  });
}
