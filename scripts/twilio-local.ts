/**
 * A stand-in for Twilio's Messages API on this machine, for trying staff replies without texting
 * anyone: the server sends to it (TWILIO_API_BASE_URL), it prints what Twilio would have texted,
 * answers as Twilio does, and reports each message `sent` and then `delivered` to the reply's
 * StatusCallback, signed with the auth token the server sent with, as Twilio signs callbacks.
 * It is the same fake the tests use (test/support/fake-twilio.ts).
 *
 *   npm run twilio:local [-- --port 3010]
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import twilio from 'twilio';
import { startFakeTwilio, type FakeTwilioMessage, type FakeTwilioRequest } from '../test/support/fake-twilio.js';

export const USAGE = [
  'usage: npm run twilio:local [-- --port 3010]',
  "  Runs a stand-in for Twilio's Messages API on 127.0.0.1 (default port 3010) and prints each text the",
  '  server would have sent; each is then reported sent and delivered to its StatusCallback.',
  '  Start the server with the two variables it prints.',
];

export interface LocalTwilio {
  baseUrl: string;
  /** Resolves when every status callback started so far has been answered. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the stand-in.
 * @param options - the port (0: any free one), where lines go, and the pause before each callback
 */
export async function startLocalTwilio(options: { port: number; out: (line: string) => void; callbackDelayMs?: number }): Promise<LocalTwilio> {
  const pending = new Set<Promise<void>>();
  const report = async (message: FakeTwilioMessage, request: FakeTwilioRequest): Promise<void> => {
    const callback = request.params.StatusCallback;
    if (!callback) {
      return;
    }
    for (const status of ['sent', 'delivered']) {
      await new Promise((ok) => setTimeout(ok, options.callbackDelayMs ?? 500));
      const params = { MessageSid: message.sid, SmsSid: message.sid, MessageStatus: status, SmsStatus: status, AccountSid: message.account_sid, From: message.from, To: message.to, ApiVersion: '2010-04-01' };
      try {
        const res = await fetch(callback, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': twilio.getExpectedTwilioSignature(request.password, callback, params) },
          body: new URLSearchParams(params).toString(),
        });
        options.out(`  ${message.sid} ${status}: status callback answered ${res.status}`);
      } catch (err) {
        options.out(`  ${message.sid} ${status}: status callback failed (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`);
        return;
      }
    }
  };
  const fake = await startFakeTwilio({
    port: options.port,
    onMessage: (message, request) => {
      options.out(`${message.sid} to ${message.to} from ${message.from}: ${message.body}`);
      const done = report(message, request).finally(() => pending.delete(done));
      pending.add(done);
    },
  });
  return {
    baseUrl: fake.baseUrl,
    settled: async () => {
      await Promise.all([...pending]);
    },
    close: fake.close,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let port: number;
  try {
    const { values } = parseArgs({ args: process.argv.slice(2), options: { port: { type: 'string', default: '3010' } } });
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new Error(`--port must be a port number, got "${values.port}"`);
    }
  } catch (err) {
    console.error(`twilio:local: ${(err as Error).message}`);
    USAGE.forEach((l) => console.error(l));
    process.exit(2);
  }
  const local = await startLocalTwilio({ port, out: (line) => console.log(line) });
  console.log(`Twilio's Messages API stand-in at ${local.baseUrl}. Start the server with:`);
  console.log(`  TWILIO_ACCOUNT_SID=AC${'0'.repeat(32)} TWILIO_API_BASE_URL=${local.baseUrl} npm start`);
  const stop = (): void => {
    void local.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
