import { execFile, type ExecFileOptions } from 'node:child_process';

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a command and resolves with its output; rejects with stderr in the message on a non-zero exit. */
export function run(cmd: string, args: string[], opts: ExecFileOptions & { input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, ...opts, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${cmd} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`));
      } else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}
