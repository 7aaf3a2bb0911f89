import type { Config } from '../config/load-config.js';
import { loadClinicsFile } from '../config/clinics-file.js';
import { AppError } from '../errors.js';
import { checkEventEndpoints } from '../events/endpoint-config.js';
import { loadRules } from '../rules/load-rules.js';
import { resolveTokens, type Snapshot } from './live-config.js';

/**
 * Reads the clinics file and every clinic's rules and returns a complete snapshot, or
 * throws CONFIG_INVALID / RULES_INVALID with every finding. Used at start and on reload.
 * @param config - paths and default tokens
 * @param env - where per-clinic token variables are read
 */
export async function buildSnapshot(config: Readonly<Config>, env: Record<string, string | undefined>, now: Date = new Date()): Promise<Snapshot> {
  const clinics = await loadClinicsFile(config.clinicsFile);
  const rules = await loadRules({ rulesDir: config.rulesDir, clinics: clinics.clinics });
  const { tokens, byAccount, missing, all } = resolveTokens(clinics.clinics, config.authTokens, env);
  if (config.signatureValidation && missing.length > 0) {
    throw new AppError('CONFIG_INVALID', `no auth token for signature checks:\n  ${missing.join('\n  ')}`, {
      findings: missing.map((m) => ({ file: config.clinicsFile, line: 1, col: 1, message: m, severity: 'error' as const })),
    });
  }
  const eventFindings = checkEventEndpoints(clinics.clinics, env, config.nodeEnv === 'production');
  if (eventFindings.length > 0) {
    throw new AppError('CONFIG_INVALID', `invalid events endpoints in ${config.clinicsFile}`, { findings: eventFindings });
  }
  return { clinics, rules, tokens, tokensByAccount: byAccount, allTokens: all, loadedAt: now };
}
