import type { ClinicsFile } from '../config/clinics-file.js';
import { importDataFile, type ImportSummary } from './import-data.js';
import type { Store } from '../store/store.js';

/**
 * Loads SEED_FILE (the import format) into the embedded store: same validation as
 * `clinic-sms import`, so a bad seed fails start-up with file:line. Unlike an import, its
 * appointments may say `startsAt: +1d 15:00` (relative to `now`, in the clinic's time
 * zone), so the demo data stays upcoming on any date.
 * @param store - usually the MemoryStore
 * @param file - path of the seed file
 * @param clinics - clinics the rows may name
 * @param now - what relative times count from
 */
export async function loadSeed(store: Store, file: string, clinics: ClinicsFile, now: Date = new Date()): Promise<ImportSummary> {
  return importDataFile(file, { store, clinics: clinics.byId, relativeTo: now });
}
