#!/usr/bin/env node
// The package's executable: registers tsx's loader, then runs the TypeScript entry.
import { register } from 'tsx/esm/api';

register();
await import('./tenant-canary.ts');
