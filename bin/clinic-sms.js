#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so the bin works without a build step.
import { register } from 'tsx/esm/api';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

register();
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { runCli } = await import(pathToFileURL(join(root, 'src/cli/index.ts')).href);
const { processIO } = await import(pathToFileURL(join(root, 'src/cli/io.ts')).href);
process.exitCode = await runCli(process.argv.slice(2), processIO());
