import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadClinicsFile } from '../../config/clinics-file.js';
import { AppError, errorCode, fileFinding, formatFindings } from '../../errors.js';
import { checkDataFile, importRows, type ImportProgress } from '../../import/import-data.js';
import { openBackend } from '../../store/backend.js';
import { wantsHelp, type CliCommand } from '../io.js';

const USAGE = 'usage: clinic-sms import <file.yaml|file.json|file.csv> [--dry-run] [--relative-dates]';
const HELP = [
  USAGE,
  '  Checks every row, then upserts patients and appointments into MongoDB (MONGODB_URI) by id;',
  '  nothing is written when any row is bad. An appointment writes only what the practice system',
  '  owns (startsAt, provider, status); a patient\'s SMS response stays, unless the import moves',
  '  startsAt or cancels: then it is retired into the appointment\'s responseHistory.',
  '  --dry-run writes nothing: with MONGODB_URI it also checks the patients appointments name and',
  '  counts what the import would change, patient responses retired included; without, it checks',
  '  the file only.',
  '  --relative-dates accepts the demo seed file\'s startsAt notation ("+1d 10:30": days from today at',
  '  that clinic-local time), resolved when the import runs; e.g. config/demo-data.yaml for a local trial.',
];
/** Files with more rows than this get progress lines. */
const PROGRESS_ABOVE = 1000;

/**
 * `clinic-sms import <file>`: checks every row of a patients/appointments file, then
 * upserts them into MongoDB (MONGODB_URI) by id. Nothing is written when any row is bad, or
 * when an appointment names a patient neither in the file nor in the database.
 * `--dry-run` writes nothing: with MONGODB_URI it also counts what the import would do
 * (patient responses retired included); without, it checks the file only.
 */
export const importCommand: CliCommand = async (args, io) => {
  if (wantsHelp(args)) {
    HELP.forEach((l) => io.out(l));
    return 0;
  }
  const dryRun = args.includes('--dry-run');
  const relativeDates = args.includes('--relative-dates');
  const positional = args.filter((a) => a !== '--dry-run' && a !== '--relative-dates');
  if (positional.length !== 1 || positional[0]!.startsWith('-')) {
    io.err(USAGE);
    return 2;
  }
  const file = positional[0]!;
  const uri = io.env.MONGODB_URI?.trim();
  if (!uri && !dryRun) {
    io.err('error: MONGODB_URI is not set. Import writes to MongoDB; the embedded store keeps nothing once this command exits.');
    io.err('       Set MONGODB_URI (e.g. MONGODB_URI=mongodb://127.0.0.1:27017/clinic-sms), or use --dry-run to check the file only.');
    return 2;
  }
  const clinics = await loadClinicsFile(resolve(io.cwd, io.env.CLINICS_FILE ?? 'config/clinics.yaml'));
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, file), 'utf8');
  } catch (cause) {
    throw new AppError('IMPORT_INVALID', `cannot read ${file}`, {
      cause,
      findings: [fileFinding(file, `cannot read: ${errorCode(cause) ?? 'error'}`)],
    });
  }
  const started = Date.now();
  const rows = checkDataFile(text, file, clinics.byId, relativeDates ? new Date() : undefined);
  const warnings = rows.findings.filter((f) => f.severity === 'warning');
  if (warnings.length > 0) {
    io.err(formatFindings(warnings));
  }
  io.out(`${file}: ${rows.patients.length} patients, ${rows.appointments.length} appointments, all valid`);
  if (dryRun && !uri) {
    io.out('dry run: nothing written');
    io.err('note: MONGODB_URI is not set, so the patients appointments name and the patient responses the import would retire were not checked');
    return 0;
  }

  const { store } = await openBackend({ mongodbUri: uri }, { purpose: 'batch' });
  let writing = false;
  try {
    await store.ping();
    await store.init();
    const onProgress = (p: ImportProgress): void => {
      if (p.total > PROGRESS_ABOVE) {
        io.err(`  ${p.kind}: ${p.done}/${p.total}`);
      }
    };
    writing = !dryRun;
    const summary = await importRows(rows, { store, onProgress, dryRun });
    const would = dryRun ? ' (dry run: would be)' : '';
    for (const kind of ['patients', 'appointments'] as const) {
      const s = summary[kind];
      io.out(`${kind}: ${s.inserted} inserted, ${s.updated} updated, ${s.unchanged} unchanged${would}`);
    }
    io.out(`patient responses retired: ${summary.appointments.retiredResponses}${would} (startsAt moved or cancelled; kept in responseHistory)`);
    io.out(dryRun ? 'dry run: nothing written' : `done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  } catch (err) {
    if (errorCode(err) === 'STORE_UNAVAILABLE') {
      io.err(
        writing
          ? 'error: lost MongoDB during the import; some rows may be written. Run the same import again: rows are upserted by id.'
          : 'error: cannot reach MongoDB (MONGODB_URI); nothing was imported. Is the server running?',
      );
      return 1;
    }
    throw err;
  } finally {
    await store.close();
  }
};
