import type { FormParams } from './form-params.js';

/** Where tokens are found: the service's config snapshot has this shape. */
export interface TokenDirectory {
  readonly clinics: { readonly byNumber: ReadonlyMap<string, { readonly id: string }> };
  /** Tokens by clinic id. */
  readonly tokens: ReadonlyMap<string, readonly string[]>;
  /** Tokens by Twilio AccountSid, for clinics that name their account. */
  readonly tokensByAccount: ReadonlyMap<string, readonly string[]>;
  /** Every token any clinic uses. */
  readonly allTokens: readonly string[];
}

/**
 * The tokens that may have signed a webhook: the To number's clinic's; for a number no clinic
 * owns, the account's (by AccountSid), else any of ours (the request then gets the empty reply
 * for an unknown number, but only once it is proven to come from Twilio).
 * @param directory - the config snapshot the request runs with
 * @param form - the received parameters
 */
export function selectTokens(directory: TokenDirectory, form: FormParams): readonly string[] {
  const clinic = directory.clinics.byNumber.get((form.values.To?.[0] ?? '').trim());
  if (clinic) {
    return directory.tokens.get(clinic.id) ?? [];
  }
  return directory.tokensByAccount.get(form.values.AccountSid?.[0] ?? '') ?? directory.allTokens;
}
