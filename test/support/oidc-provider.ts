import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** A person the local provider knows: their login at its sign-in form, and their claims. */
export interface ProviderUser {
  login: string;
  email: string;
  emailVerified: boolean;
  name: string;
}

export interface LocalOidcProvider {
  /** http://127.0.0.1:<port>: STAFF_OIDC_ISSUER. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The authorization requests it received (their query), to check PKCE and state. */
  authorizations: URLSearchParams[];
  /** Token requests it received (their form), to check the code verifier. */
  tokenRequests: URLSearchParams[];
  /** Registers the app's callback (known once the app listens). */
  allowRedirect(uri: string): void;
  /**
   * true: behave as a provider that ignores `prompt=login` and `max_age` (they are taken off
   * the authorization request before the provider reads it): its open session answers at once
   * and its ID token says no auth_time.
   */
  ignoreReauthentication(on: boolean): void;
  close(): Promise<void>;
}

/**
 * A real OpenID Connect provider (`oidc-provider`, panva) on loopback, port 0, with one
 * confidential client and the given users. Its development sign-in form (login + any
 * password, then "Continue" to consent) stands in for Google's or Microsoft's. PKCE is
 * required for the client, as the staff sign-in always sends it.
 */
export async function startOidcProvider(users: readonly ProviderUser[]): Promise<LocalOidcProvider> {
  const authorizations: URLSearchParams[] = [];
  let ignoreReauth = false;
  const tokenRequests: URLSearchParams[] = [];
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/auth') {
      authorizations.push(new URLSearchParams(url.searchParams));
      if (ignoreReauth) {
        url.searchParams.delete('prompt');
        url.searchParams.delete('max_age');
        req.url = `${url.pathname}?${url.searchParams.toString()}`;
      }
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      // Read a copy of the form; oidc-provider reads the stream itself.
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => tokenRequests.push(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    }
    handler?.(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'clinic-sms-staff';
  const clientSecret = 'local-test-secret-0123456789abcdef0123456789';
  const redirectUris: string[] = [];
  const byLogin = new Map(users.map((u) => [u.login, u]));
  let provider: Provider | null = null;
  const build = (): void => {
    provider = new Provider(issuer, {
      clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [...redirectUris], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post' }],
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      // Email in the ID token (as Google does), not only at userinfo.
      conformIdTokenClaims: false,
      pkce: { required: () => true },
      cookies: { keys: ['local-provider-cookie-key'] },
      features: { devInteractions: { enabled: true } },
      async findAccount(_ctx, id) {
        const user = byLogin.get(id);
        if (!user) {
          return undefined;
        }
        return { accountId: id, claims: async () => ({ sub: id, email: user.email, email_verified: user.emailVerified, name: user.name }) };
      },
    });
    handler = provider.callback();
  };
  build();
  return {
    issuer,
    clientId,
    clientSecret,
    authorizations,
    tokenRequests,
    ignoreReauthentication(on) {
      ignoreReauth = on;
    },
    allowRedirect(uri) {
      redirectUris.push(uri);
      build();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
