// Writes manifests/crds/ and the CRD section of manifests/tortie.yaml from the resource model
// (`make crds`); the unit test datastore/backends/kubernetes/crds.test.ts fails when either drifts from it.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrdFiles, withCrdSection } from '../../datastore/backends/kubernetes/crds.js';

const manifests = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'manifests');
const dir = join(manifests, 'crds');
mkdirSync(dir, { recursive: true });
const files = renderCrdFiles();
for (const f of readdirSync(dir)) if (f.endsWith('.yaml') && !files.has(f)) rmSync(join(dir, f));
for (const [name, text] of files) writeFileSync(join(dir, name), text);
const install = join(manifests, 'tortie.yaml');
writeFileSync(install, withCrdSection(readFileSync(install, 'utf8')));
console.log(`wrote ${files.size} CRDs to ${dir} and ${install}`);
