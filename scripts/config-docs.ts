/**
 * Writes docs/configuration.md and .env.example from the settings groups (npm run config:docs);
 * src/common/config/settings-reference.spec.ts fails when either is not what this writes.
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppConfig } from '../src/app.config';
import { configurationReference, envExample, REFERENCE_FILES } from '../src/common/config/settings-reference';

const root = join(__dirname, '..');
writeFileSync(join(root, REFERENCE_FILES.docs), configurationReference(AppConfig));
writeFileSync(join(root, REFERENCE_FILES.example), envExample(AppConfig));
console.log(`wrote ${REFERENCE_FILES.docs} and ${REFERENCE_FILES.example}`);
