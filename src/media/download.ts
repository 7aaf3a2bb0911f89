import twilio from 'twilio';
import { checkRedirect, type TwilioMediaUrl, type UrlPolicy } from './url-policy.js';

export interface BasicAuth {
  username: string;
  password: string;
}

export type DownloadResult =
  | { kind: 'ok'; bytes: Buffer; declaredType: string | null }
  /** An HTTP answer other than 2xx (after the redirects). */
  | { kind: 'status'; status: number }
  | { kind: 'too-large'; limit: number }
  /** A redirect the policy refuses, or too many. */
  | { kind: 'refused'; reason: string }
  | { kind: 'network'; reason: string }
  | { kind: 'timeout' };

export interface DownloadOptions {
  url: URL;
  auth: BasicAuth;
  policy: UrlPolicy;
  /** Bytes at most; the download is cut off (connection closed) past it. */
  maxBytes: number;
  /** For the whole download, redirects included. */
  timeoutMs: number;
  /** Aborts the download (shutdown, a killed worker in tests). */
  signal?: AbortSignal;
}

const MAX_REDIRECTS = 5;

const basic = (auth: BasicAuth): string => `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;

/**
 * Downloads one media file: HTTP Basic on the first request only (Twilio's API), each
 * redirect checked by the URL policy and followed without credentials (the CDN's URLs
 * are pre-signed), the body read chunk by chunk and the connection closed as soon as it
 * passes `maxBytes` (a Content-Length above it is refused before any body is read).
 * Never throws: every outcome is a result.
 * @param options - URL, credentials, policy, limits
 */
export async function downloadMedia(options: DownloadOptions): Promise<DownloadResult> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error('timeout')), options.timeoutMs);
  const onOuterAbort = (): void => abort.abort(new Error('aborted'));
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let timedOut = false;
  abort.signal.addEventListener('abort', () => {
    timedOut = (abort.signal.reason as Error | undefined)?.message === 'timeout';
  });
  try {
    let url = options.url;
    for (let hop = 0; ; hop += 1) {
      const response = await fetch(url, {
        method: 'GET',
        redirect: 'manual',
        headers: hop === 0 ? { authorization: basic(options.auth), accept: '*/*' } : { accept: '*/*' },
        signal: abort.signal,
      });
      if (response.status >= 300 && response.status < 400 && response.headers.has('location')) {
        await response.body?.cancel();
        if (hop >= MAX_REDIRECTS) {
          return { kind: 'refused', reason: 'too many redirects' };
        }
        let next: URL;
        try {
          next = new URL(response.headers.get('location') as string, url);
        } catch {
          return { kind: 'refused', reason: 'redirect to an invalid URL' };
        }
        const refusal = checkRedirect(next, options.policy);
        if (refusal !== null) {
          return { kind: 'refused', reason: refusal };
        }
        url = next;
        continue;
      }
      if (response.status < 200 || response.status >= 300) {
        await response.body?.cancel();
        return { kind: 'status', status: response.status };
      }
      const declared = Number(response.headers.get('content-length') ?? NaN);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        abort.abort(new Error('too large'));
        return { kind: 'too-large', limit: options.maxBytes };
      }
      const chunks: Buffer[] = [];
      let size = 0;
      if (response.body) {
        const reader = response.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) {
            break;
          }
          size += value.byteLength;
          if (size > options.maxBytes) {
            // Closes the connection: the sender stops here, and no more than the limit is held.
            abort.abort(new Error('too large'));
            await reader.cancel().catch(() => undefined);
            return { kind: 'too-large', limit: options.maxBytes };
          }
          chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
        }
      }
      return { kind: 'ok', bytes: Buffer.concat(chunks, size), declaredType: response.headers.get('content-type') };
    }
  } catch (err) {
    if (timedOut) {
      return { kind: 'timeout' };
    }
    const cause = (err as { cause?: { code?: unknown } }).cause;
    return { kind: 'network', reason: typeof cause?.code === 'string' ? cause.code : (err as Error).name };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onOuterAbort);
  }
}

/**
 * Deletes Twilio's copy through the Media REST API with the `twilio` client
 * (DELETE /2010-04-01/Accounts/AC…/Messages/MM…/Media/ME….json), on the host the media URL
 * names (api.twilio.com, a regional api.<region>.twilio.com, or the local fake in tests).
 * 204 and 404 (already gone) both mean it is not there any more.
 * @param media - the checked media URL and the SIDs it names
 * @param auth - the account SID and auth token, or an API key SID and secret
 * @param timeoutMs - for the request
 * @returns the HTTP status, or null when no answer came
 */
export async function deleteTwilioMedia(media: TwilioMediaUrl, auth: BasicAuth, timeoutMs: number): Promise<number | null> {
  const client = twilio(auth.username, auth.password, { accountSid: media.accountSid, timeout: timeoutMs });
  client.api.baseUrl = media.url.origin;
  try {
    await client.api.v2010.accounts(media.accountSid).messages(media.messageSid).media(media.mediaSid).remove();
    return 204;
  } catch (err) {
    // The client's RestException carries Twilio's HTTP status; a request that got no answer has none.
    const status = (err as { status?: unknown }).status;
    return typeof status === 'number' ? status : null;
  }
}
