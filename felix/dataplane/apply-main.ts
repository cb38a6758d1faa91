// One-shot dataplane apply: reads a DesiredState (JSON) on stdin, converges this network namespace
// to it and prints the report. Run under `ip netns exec` by the lab and the e2e tests.
import { applyState } from './apply.js';
import { RouteDriver } from './routes.js';
import type { DesiredState } from '../calc/types.js';

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  let state: DesiredState;
  try {
    state = JSON.parse(Buffer.concat(chunks).toString('utf8')) as DesiredState;
    if (!Array.isArray(state.routes)) throw new Error('field "routes" must be an array');
  } catch (e) {
    process.stderr.write(`felix-apply: bad input: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
  const driver = new RouteDriver();
  try {
    const report = await applyState(state, driver);
    process.stdout.write(`${JSON.stringify(report)}\n`);
    if (report.errors.length) process.stderr.write(`${report.errors.join('\n')}\n`);
    process.exitCode = report.errors.length ? 1 : 0;
  } finally {
    driver.close();
  }
}

void main();
