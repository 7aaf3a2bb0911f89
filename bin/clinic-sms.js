#!/usr/bin/env node
// Runs the compiled CLI (dist/, made by `npm run build`) when it is there: that is the
// production path, and a production install (`npm ci --omit=dev`) has no tsx. Without a
// build it runs the TypeScript sources through tsx (a development install), so the bin
// works without a build step. After editing src/, rebuild or remove dist/: the npm
// scripts (`npm start`, `npm run rules`, ...) always run the sources.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const compiled = join(root, 'dist/src/cli/index.js');
let base = join(root, 'dist/src/cli');
let ext = 'js';
if (!existsSync(compiled)) {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('clinic-sms: no build (dist/) and no tsx: run `npm run build`, or install the dev dependencies\n');
    process.exit(1);
  }
  register();
  base = join(root, 'src/cli');
  ext = 'ts';
}
const { runCli } = await import(pathToFileURL(join(base, `index.${ext}`)).href);
const { processIO } = await import(pathToFileURL(join(base, `io.${ext}`)).href);
process.exitCode = await runCli(process.argv.slice(2), processIO());
