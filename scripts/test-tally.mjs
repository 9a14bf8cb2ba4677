// A node:test reporter that tallies the run for scripts/run-tests.mjs: one JSON line with the
// passed, failed, skipped and todo tests (suites are not counted; subtests are) and every skip
// with its file and reason, so the closing line can count skips instead of leaving them among
// hundreds of lines of output.
export default async function* tally(source) {
  const counts = { passed: 0, failed: 0, skipped: 0, todo: 0 };
  const skips = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { name, file, skip, todo, details } = event.data;
    if (details?.type === 'suite') continue;
    if (skip !== undefined && skip !== false) {
      counts.skipped++;
      skips.push({ file: file ?? '', name, reason: typeof skip === 'string' ? skip : '' });
    } else if (todo !== undefined && todo !== false) counts.todo++;
    else if (event.type === 'test:pass') counts.passed++;
    else counts.failed++;
  }
  yield `${JSON.stringify({ ...counts, skips })}\n`;
}
