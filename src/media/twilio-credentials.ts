import type { Clinic } from '../domain.js';
import type { BasicAuth } from './download.js';

/**
 * The credentials a clinic's media are fetched (and deleted) with, as Twilio takes them
 * for HTTP Basic: an API key SID and its secret when the clinic names them
 * (`apiKeySid`, `apiKeySecretEnv`), else the account SID and its auth token (the
 * clinic's `authTokenEnv`, else TWILIO_AUTH_TOKEN). Null when none is configured.
 * @param clinic - the clinic the message went to
 * @param accountSid - the account the media URL names
 * @param env - the environment (secrets come only from there)
 * @param defaultToken - TWILIO_AUTH_TOKEN (or the local development token)
 */
export function mediaCredentials(clinic: Clinic, accountSid: string, env: Record<string, string | undefined>, defaultToken: string | undefined): BasicAuth | null {
  if (clinic.apiKeySid !== undefined && clinic.apiKeySecretEnv !== undefined) {
    const secret = env[clinic.apiKeySecretEnv];
    return secret ? { username: clinic.apiKeySid, password: secret } : null;
  }
  const token = clinic.authTokenEnv !== undefined ? env[clinic.authTokenEnv] : defaultToken;
  return token ? { username: accountSid, password: token } : null;
}
