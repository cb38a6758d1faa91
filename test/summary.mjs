// The end of `make test`: each failed test by file and name with the first line of its error, then
// the plain "N passed, N failed, N skipped" line CI reads (a missing report counts as a failure).
import { readFileSync } from 'node:fs';
import process from 'node:process';

const reports = process.argv.slice(2).map((file) => {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    process.stdout.write(`no test report at ${file} (its vitest process did not finish)\n`);
    return { numPassedTests: 0, numFailedTests: 1, numPendingTests: 0, numTodoTests: 0, testResults: [] };
  }
});
for (const r of reports) {
  for (const file of r.testResults ?? []) {
    const failed = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
    const where = file.name.replace(`${process.cwd()}/`, '');
    for (const t of failed) process.stdout.write(`FAILED ${where} > ${t.fullName}: ${String(t.failureMessages?.[0] ?? '').split('\n')[0]}\n`);
    if (!failed.length && file.status === 'failed') process.stdout.write(`FAILED ${where}: ${String(file.message ?? '').split('\n')[0]}\n`);
  }
}
const sum = (k) => reports.reduce((a, r) => a + (r[k] ?? 0), 0);
process.stdout.write(`${sum('numPassedTests')} passed, ${sum('numFailedTests')} failed, ${sum('numPendingTests') + sum('numTodoTests')} skipped\n`);
