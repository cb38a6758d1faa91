// Writes manifests/crds/ from the resource model (`make crds`); the unit test
// datastore/backends/kubernetes/crds.test.ts fails when the committed files drift from it.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrdFiles } from '../../datastore/backends/kubernetes/crds.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'manifests', 'crds');
mkdirSync(dir, { recursive: true });
const files = renderCrdFiles();
for (const f of readdirSync(dir)) if (f.endsWith('.yaml') && !files.has(f)) rmSync(join(dir, f));
for (const [name, text] of files) writeFileSync(join(dir, name), text);
console.log(`wrote ${files.size} CRDs to ${dir}`);
