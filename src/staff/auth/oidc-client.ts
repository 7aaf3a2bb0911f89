import * as oidc from 'openid-client';
import { AppError } from '../../errors.js';
import type { SignInFlow } from './session-store.js';

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** An http: issuer (a local test provider); refused in production by the config loader. */
  allowHttp: boolean;
}

/** The claims a sign-in ends with: who, as the provider vouches. */
export interface VerifiedClaims {
  issuer: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  /** When the provider last authenticated the person (seconds since the epoch); null: not said. */
  authTime: number | null;
}

/**
 * Authorization code + PKCE with the clinic's identity provider, through openid-client.
 * The provider's metadata is discovered on first use (and again after a failure), so a
 * provider that is down at start does not stop the service.
 */
export class OidcClient {
  private config: Promise<oidc.Configuration> | null = null;

  constructor(private readonly settings: OidcSettings) {}

  private configuration(): Promise<oidc.Configuration> {
    this.config ??= oidc
      .discovery(new URL(this.settings.issuer), this.settings.clientId, this.settings.clientSecret, undefined, this.settings.allowHttp ? { execute: [oidc.allowInsecureRequests] } : {})
      .catch((cause: unknown) => {
        this.config = null;
        throw new AppError('IDENTITY_PROVIDER_FAILED', 'the identity provider cannot be reached', { cause });
      });
    return this.config;
  }

  /** A new flow's secrets (state, nonce, PKCE verifier). */
  static newFlow(returnTo: string, reauthSince?: number): SignInFlow {
    return { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier(), returnTo, ...(reauthSince === undefined ? {} : { reauthSince }) };
  }

  /** Where to send the browser to sign in. */
  async authorizationUrl(flow: SignInFlow, redirectUri: string): Promise<URL> {
    const config = await this.configuration();
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid email profile',
      response_type: 'code',
      state: flow.state,
      nonce: flow.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(flow.codeVerifier),
      code_challenge_method: 'S256',
      // Re-authentication (after an automatic logoff or a sign-out): prompt=login for the providers
      // that take it (Microsoft Entra, Okta), max_age=0 for those that take only that (Google).
      ...(flow.reauthSince === undefined ? {} : { prompt: 'login', max_age: '0' }),
    });
  }

  /**
   * Checks the callback (state, code, PKCE, ID token signature, nonce, audience) and returns
   * the claims; email comes from the ID token, else from the userinfo endpoint.
   * @param callbackUrl - the callback as the browser called it (redirect URI + its query)
   */
  async finish(flow: SignInFlow, callbackUrl: URL): Promise<VerifiedClaims> {
    const config = await this.configuration();
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: flow.codeVerifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true });
    const claims = tokens.claims();
    if (!claims) {
      throw new AppError('IDENTITY_PROVIDER_FAILED', 'the identity provider sent no ID token');
    }
    let source: Record<string, unknown> = claims;
    if (typeof claims.email !== 'string' && tokens.access_token) {
      source = { ...(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)), ...claims };
    }
    const verified = source.email_verified === true || source.email_verified === 'true';
    return {
      issuer: claims.iss,
      subject: claims.sub,
      email: typeof source.email === 'string' ? source.email.toLowerCase() : null,
      emailVerified: verified,
      name: typeof source.name === 'string' && source.name.trim() !== '' ? source.name.trim() : null,
      authTime: typeof claims.auth_time === 'number' ? claims.auth_time : null,
    };
  }
}
