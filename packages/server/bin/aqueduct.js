#!/usr/bin/env node
// The `aqueduct` command. A committed file (not dist/) so npm can link it at install time;
// it runs the compiled CLI, which `npm run build` (and `npm start`) produce.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('aqueduct: not built yet: run `npm run build` (or `npm start`) in the repository first\n');
  process.exit(2);
}
await import(cli.href);
