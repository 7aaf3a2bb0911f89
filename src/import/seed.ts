import type { ClinicsFile } from '../config/clinics-file.js';
import { importDataFile, type ImportSummary } from './import-data.js';
import type { Store } from '../store/store.js';

/**
 * Loads SEED_FILE (the import format) into the embedded store: same validation as
 * `clinic-sms import`, so a bad seed fails start-up with file:line.
 * @param store - usually the MemoryStore
 * @param file - path of the seed file
 * @param clinics - clinics the rows may name
 */
export async function loadSeed(store: Store, file: string, clinics: ClinicsFile): Promise<ImportSummary> {
  return importDataFile(file, { store, clinics: clinics.byId });
}
