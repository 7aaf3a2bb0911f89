import { formEncode, inboundParams, newMessageSid, sign } from './twilio-sign.js';
import { AUTH_TOKEN } from './test-app.js';

/**
 * Twilio's requests to a running service whose public URL is its own origin (no
 * PUBLIC_BASE_URL): each signed for exactly the URL it is posted to, as Twilio signs.
 */
export function twilioAt(baseUrl: string, authToken = AUTH_TOKEN) {
  const post = async (path: string, params: Record<string, string>): Promise<Response> => {
    const url = `${baseUrl}${path}`;
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sign(authToken, url, params) }, body: formEncode(params) });
    await res.arrayBuffer();
    return res;
  };
  return {
    /** A patient's text (to downtown's number unless `To` is given); resolves with its MessageSid. */
    async text(from: string, body: string, overrides: Record<string, string> = {}): Promise<string> {
      const params = inboundParams({ From: from, Body: body, MessageSid: newMessageSid(), ...overrides });
      const res = await post('/v1/clinic/webhooks/twilio/sms', params);
      if (res.status !== 200) {
        throw new Error(`webhook answered ${res.status}`);
      }
      return params.MessageSid as string;
    },
    /** Twilio's delivery-status callback for a text we sent, to the URL the send named. */
    async status(callbackUrl: string, params: Record<string, string>): Promise<number> {
      const res = await fetch(callbackUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sign(authToken, callbackUrl, params) }, body: formEncode(params) });
      await res.arrayBuffer();
      return res.status;
    },
  };
}
