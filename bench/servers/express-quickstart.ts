/**
 * The outside peer: Twilio's documented Express quickstart for inbound SMS
 * (twilio.com/docs/messaging/quickstart and "secure your Express app"):
 * express.urlencoded + twilio.webhook() (signature validation on, TWILIO_AUTH_TOKEN, and
 * the public URL the bench signs for, as behind a proxy) + a MessagingResponse with a
 * fixed message.
 */
import express from 'express';
import twilio from 'twilio';
import { closeServer, listenOn, serveParent } from './child.js';

const base = new URL(process.env.PUBLIC_BASE_URL ?? 'http://localhost');
const app = express();
app.use(express.urlencoded({ extended: false }));
app.post(
  '/v1/clinic/webhooks/twilio/sms',
  twilio.webhook({ protocol: base.protocol.replace(':', ''), host: base.host }),
  (_req, res) => {
    const twiml = new twilio.twiml.MessagingResponse();
    twiml.message('Thank you for your message. We will respond shortly.');
    res.type('text/xml').send(twiml.toString());
  },
);
const server = app.listen(...listenOn(), () => serveParent(server, () => closeServer(server)));
