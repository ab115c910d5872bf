#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx, so `./bin/escalatr` works right after `npm ci` with no build step.
// The tsconfig is named explicitly: started from another directory, tsx would not find it (and its JSX settings).
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../src/cli/main.ts');
