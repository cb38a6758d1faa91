// Frames captured from real BIRD 2 / GoBGP 3 sessions (test/fixtures/bgp/*.hex), loaded for tests.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/bgp');

export interface FixtureLine {
  /** recv = sent by the real daemon; sent = our OPEN on that session. */
  dir: 'recv' | 'sent';
  type: string;
  frame: Buffer;
}

export interface Fixture {
  name: string;
  lines: FixtureLine[];
  frames: Buffer[];
}

/** Each .hex file: one frame per line as hex; lines starting with # are comments. */
export function loadFixtures(): Fixture[] {
  if (!existsSync(FIXTURE_DIR)) return [];
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.hex'))
    .sort()
    .map((name) => {
      const lines = readFileSync(join(FIXTURE_DIR, name), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => {
          const [dir, type, hex] = l.split(/\s+/);
          return { dir: dir as 'recv' | 'sent', type, frame: Buffer.from(hex, 'hex') };
        });
      return { name, lines, frames: lines.map((l) => l.frame) };
    });
}

export const FIXTURE_FRAMES: Buffer[] = loadFixtures().flatMap((f) => f.frames);
