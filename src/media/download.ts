import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
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
/** A refused or redirecting answer's body is read to its end (the connection stays open for the next file) when it declares this little. */
const DRAIN_AT_MOST = 64 * 1024;

const basic = (auth: BasicAuth): string => `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;

/** One GET through node:http(s), answered when the headers arrive. */
function get(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    send(url, { method: 'GET', headers, signal }, resolve)
      .on('error', reject)
      .end();
  });
}

/** Lets go of an answer whose body is not wanted: drained when small, else its connection closed. */
function discard(response: IncomingMessage): void {
  const declared = Number(response.headers['content-length'] ?? NaN);
  if (declared <= DRAIN_AT_MOST) {
    response.resume();
  } else {
    response.destroy();
  }
}

/**
 * Downloads one media file: HTTP Basic on the first request only (Twilio's API), each
 * redirect checked by the URL policy and followed without credentials (the CDN's URLs
 * are pre-signed), the body read chunk by chunk and the connection closed as soon as it
 * passes `maxBytes` (a Content-Length above it is refused before any body is read).
 * node:http(s) rather than fetch: a download cost the worker's event loop about a quarter
 * of fetch's CPU (WHATWG streams), and the loop is the webhook's too.
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
      const response = await get(url, hop === 0 ? { authorization: basic(options.auth), accept: '*/*' } : { accept: '*/*' }, abort.signal);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (status >= 300 && status < 400 && location !== undefined) {
        discard(response);
        if (hop >= MAX_REDIRECTS) {
          return { kind: 'refused', reason: 'too many redirects' };
        }
        let next: URL;
        try {
          next = new URL(location, url);
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
      if (status < 200 || status >= 300) {
        discard(response);
        return { kind: 'status', status };
      }
      const declared = Number(response.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        response.destroy();
        return { kind: 'too-large', limit: options.maxBytes };
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response as AsyncIterable<Buffer>) {
        size += chunk.byteLength;
        if (size > options.maxBytes) {
          // Closes the connection: the sender stops here, and no more than the limit is held.
          response.destroy();
          return { kind: 'too-large', limit: options.maxBytes };
        }
        chunks.push(chunk);
      }
      return { kind: 'ok', bytes: Buffer.concat(chunks, size), declaredType: response.headers['content-type'] ?? null };
    }
  } catch (err) {
    if (timedOut) {
      return { kind: 'timeout' };
    }
    const code = (err as { code?: unknown }).code;
    return { kind: 'network', reason: typeof code === 'string' ? code : (err as Error).name };
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
