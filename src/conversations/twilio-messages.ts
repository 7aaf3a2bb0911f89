import twilio from 'twilio';
import { AppError, errorCode } from '../errors.js';

/** One text to send through Twilio's Messages API. */
export interface OutboundSms {
  accountSid: string;
  authToken: string;
  from: string;
  to: string;
  body: string;
  /** Where Twilio posts delivery statuses (signed like the inbound webhook). */
  statusCallback?: string;
}

export interface SmsSender {
  /**
   * Resolves with Twilio's Message SID and first status; rejects with OPTED_OUT or
   * TWILIO_FAILED when Twilio refused it, TWILIO_TIMEOUT when no answer came (it may have
   * been sent: find() tells).
   */
  send(sms: OutboundSms): Promise<{ sid: string; status: string }>;
  /** The newest message Twilio took from `from` to `to` with exactly `body`, created at or after `since` (its message list); null: none. */
  find(sms: Omit<OutboundSms, 'statusCallback'> & { since: Date }): Promise<{ sid: string; status: string } | null>;
}

/** Twilio's error for a recipient who texted STOP to the sender (the carrier-level opt-out). */
const UNSUBSCRIBED_RECIPIENT = 21610;

type TwilioClient = ReturnType<typeof twilio>;

/**
 * Sends through the `twilio` client with the clinic's account credentials. The REST base
 * (TWILIO_API_BASE_URL) replaces the API domain's base URL, so tests talk to a local fake
 * over HTTP and production to https://api.twilio.com. One client per account is kept.
 * @param options - the REST base and the per-request timeout
 */
export function createTwilioSender(options: { baseUrl: string; timeoutMs?: number }): SmsSender {
  const clients = new Map<string, TwilioClient>();
  const clientFor = (accountSid: string, authToken: string): TwilioClient => {
    const key = `${accountSid}:${authToken}`;
    let client = clients.get(key);
    if (!client) {
      client = twilio(accountSid, authToken, { timeout: options.timeoutMs ?? 10_000 });
      client.api.baseUrl = options.baseUrl;
      clients.set(key, client);
    }
    return client;
  };
  return {
    async send(sms) {
      try {
        const message = await clientFor(sms.accountSid, sms.authToken).api.v2010.accounts(sms.accountSid).messages.create({
          from: sms.from,
          to: sms.to,
          body: sms.body,
          ...(sms.statusCallback === undefined ? {} : { statusCallback: sms.statusCallback }),
        });
        return { sid: message.sid, status: message.status };
      } catch (cause) {
        // Twilio's messages may quote the phone number: only its code travels on.
        const code = errorCode(cause);
        if (typeof (cause as { status?: unknown }).status !== 'number') {
          // No answer (timeout, connection lost): Twilio may have taken it.
          throw new AppError('TWILIO_TIMEOUT', 'Twilio did not answer in time; the reply may have been sent. Retry with the same Idempotency-Key: it is looked up at Twilio, never sent twice', {
            cause: { code },
          });
        }
        if (code === UNSUBSCRIBED_RECIPIENT) {
          throw new AppError('OPTED_OUT', 'the patient has opted out of texts from this number; nothing was sent');
        }
        throw new AppError('TWILIO_FAILED', `Twilio did not take the message (${typeof code === 'number' || typeof code === 'string' ? code : 'no answer'})`, {
          cause: { code },
        });
      }
    },
    async find(sms) {
      try {
        // Newest first; a queued message has no date_sent yet, so the time is matched here on date_created.
        const list = await clientFor(sms.accountSid, sms.authToken).api.v2010.accounts(sms.accountSid).messages.list({ from: sms.from, to: sms.to, limit: 20 });
        const found = list.find((m) => m.body === sms.body && m.dateCreated.getTime() >= sms.since.getTime());
        return found ? { sid: found.sid, status: found.status } : null;
      } catch (cause) {
        throw new AppError('TWILIO_TIMEOUT', 'Twilio\'s message list did not answer; retry with the same Idempotency-Key', { cause: { code: errorCode(cause) } });
      }
    },
  };
}
