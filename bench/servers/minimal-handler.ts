/**
 * The least a correct webhook does, on Koa: parse the form (koa-bodyparser), check
 * X-Twilio-Signature (twilio.validateRequest over PUBLIC_BASE_URL + path) and answer a
 * fixed TwiML reply.
 */
import Koa from 'koa';
import bodyParser from 'koa-bodyparser';
import twilio from 'twilio';
import { closeServer, listenOn, serveParent } from './child.js';

const token = process.env.TWILIO_AUTH_TOKEN ?? '';
const base = process.env.PUBLIC_BASE_URL ?? '';
const TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Thank you for your message. We will respond shortly.</Message></Response>';

const app = new Koa();
app.use(bodyParser({ enableTypes: ['form'], formLimit: '32kb' }));
app.use((ctx) => {
  const params = ctx.request.body as Record<string, string>;
  if (!twilio.validateRequest(token, ctx.get('X-Twilio-Signature'), `${base}${ctx.originalUrl}`, params)) {
    ctx.status = 403;
    ctx.body = 'bad signature';
    return;
  }
  ctx.type = 'text/xml';
  ctx.body = TWIML;
});
const server = app.listen(...listenOn(), () => serveParent(server, () => closeServer(server)));
