/**
 * The full service next to three servers that do less, in one run: bare Koa (the floor),
 * the minimal Koa handler (form + signature + fixed TwiML), and the outside peer, Twilio's
 * Express quickstart. All start first; then they take turns (bench/lib/rounds.ts).
 */
import { runRounds, type RoundsSettings, type VariantResult } from '../lib/rounds.js';
import { startServer, type ServerChild, type ServerKind } from '../lib/servers.js';
import { mixFor, peerEnv, serviceEnv, type World } from '../lib/world.js';

export const VARIANTS: ReadonlyArray<{ name: string; kind: ServerKind }> = [
  { name: 'bare Koa', kind: 'bare-koa' },
  { name: 'minimal handler', kind: 'minimal-handler' },
  { name: 'express-quickstart', kind: 'express-quickstart' },
  { name: 'service', kind: 'full-service' },
];

export async function runCompare(root: string, world: World, settings: RoundsSettings): Promise<VariantResult[]> {
  const servers: ServerChild[] = [];
  try {
    const contenders = [];
    for (const [i, v] of VARIANTS.entries()) {
      const server = await startServer(root, v.kind, v.kind === 'full-service' ? serviceEnv(world) : peerEnv());
      servers.push(server);
      contenders.push({ name: v.name, server, mix: mixFor(world, 100 + i), reuse: v.kind !== 'full-service' });
    }
    return await runRounds(contenders, settings);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}
