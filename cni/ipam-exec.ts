// Runs a foreign IPAM plugin (ipam.type, e.g. host-local) from CNI_PATH, exactly as a runtime runs a plugin.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { CniCommand, CniEnv, NetConf } from './config.js';
import { CNI_CODES, CniError } from './errors.js';

export function findPlugin(type: string, path: string[]): string {
  for (const dir of path) {
    const p = join(dir, type);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  throw new CniError(CNI_CODES.invalidConfig, `IPAM plugin "${type}" (ipam.type) was not found in CNI_PATH=${path.join(':') || '(empty)'}`);
}

export function execIpam(conf: NetConf, env: CniEnv, command: CniCommand, procEnv: NodeJS.ProcessEnv): Promise<unknown> {
  if (!conf.ipam.type) throw new CniError(CNI_CODES.invalidConfig, 'network config field "ipam.type" is missing');
  const exe = findPlugin(conf.ipam.type, env.path);
  return new Promise((resolve, reject) => {
    const child = execFile(exe, [], { env: { ...procEnv, CNI_COMMAND: command }, encoding: 'utf8', maxBuffer: 4 << 20 }, (err, stdout) => {
      let out: unknown;
      try {
        out = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        out = undefined;
      }
      if (err) {
        const e = out as { code?: number; msg?: string; details?: string } | undefined;
        reject(new CniError(e?.code ?? CNI_CODES.ipamFailure, `IPAM plugin ${conf.ipam.type}: ${e?.msg ?? err.message}`, e?.details ?? ''));
      } else resolve(out);
    });
    child.stdin?.end(JSON.stringify(conf.raw));
  });
}
