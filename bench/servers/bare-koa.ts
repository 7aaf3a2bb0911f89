/** Bare Koa answering a fixed string: the floor of what any Koa service costs. */
import Koa from 'koa';
import { closeServer, listenOn, serveParent } from './child.js';

const app = new Koa();
app.use((ctx) => {
  ctx.body = 'ok';
});
const server = app.listen(...listenOn(), () => serveParent(server, () => closeServer(server)));
