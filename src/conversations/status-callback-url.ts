import type { AddressInfo } from 'node:net';

/** Where Twilio posts the delivery status of the texts staff send. */
export const STATUS_CALLBACK_PATH = '/v1/clinic/webhooks/twilio/status';

/**
 * The StatusCallback URL a reply carries: the configured origin + the callback path, or
 * undefined (no callback asked for) when there is no origin or it is not an absolute
 * http(s) URL. Built from configuration only, never from a request header: a reply sent with
 * `Origin: https://attacker.example` must not send Twilio's callbacks (with patients'
 * numbers) there.
 * @param origin - PUBLIC_BASE_URL, or in development the address the service listens on
 */
export function statusCallbackUrl(origin: string | null): string | undefined {
  if (origin === null || origin === '') {
    return undefined;
  }
  try {
    const url = new URL(`${origin}${STATUS_CALLBACK_PATH}`);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.host !== '' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The origin of a listening server as a local client reaches it: a wildcard address
 * (0.0.0.0, ::) as 127.0.0.1, IPv6 in brackets. Development's callback origin when
 * PUBLIC_BASE_URL is unset.
 * @param address - server.address()
 */
export function listeningOrigin(address: AddressInfo | string | null): string | null {
  if (address === null || typeof address === 'string') {
    return null;
  }
  const host = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}
