/** Variant (a): bare Koa answering a fixed string. Listens on HOST:PORT (PORT=0: any). */
import Koa from 'koa';
import { closeServer, serveParent } from './child-ipc.js';

const app = new Koa();
app.use((ctx) => {
  ctx.body = 'ok';
});
const server = app.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  serveParent(server, () => closeServer(server));
});
