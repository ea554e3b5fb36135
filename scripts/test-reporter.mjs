/**
 * A node:test reporter that closes the run with every test that did not pass and why. A test
 * cancelled because its suite's `before` hook failed, or because its file timed out, counts as
 * failed here, and its line carries the cause (the hook's error, the timeout), which node's own
 * summary (`fail 0`, `cancelled 1`) does not show. Used next to the spec reporter by `npm test`.
 * Plain JavaScript: node loads reporters before any TypeScript loader.
 */
import { inspect } from 'node:util';

/**
 * `value` as text; an object without a string form (no prototype, say) is inspected instead.
 * @param {unknown} value
 */
function printable(value) {
  try {
    return String(value);
  } catch {
    return inspect(value, { depth: 2 });
  }
}

/** @param {unknown} value */
function firstLines(value, lines = 4) {
  const text =
    value instanceof Error
      ? (value.stack ?? value.message)
      : typeof value === 'string'
        ? value
        : printable(value);
  return text.split('\n').slice(0, lines).join('\n      ');
}

/** @param {{ name: string, file?: string, kind: string, message: string, cause?: string, parent?: any }} failure */
function describe(failure) {
  const where = failure.file ? ` (${failure.file})` : '';
  const cause = failure.parent
    ? `cancelled because ${failure.parent.name} failed (${failure.parent.kind}): ${failure.parent.cause ?? failure.parent.message}`
    : (failure.cause ?? failure.message);
  return `  ✖ ${failure.name}${where}\n      ${failure.kind}: ${cause}`;
}

/**
 * The reporter: prints the failures and one closing count line.
 * @param {AsyncIterable<{ type: string, data: any }>} source
 */
export default async function* failureSummary(source) {
  const failures = [];
  const cancelled = [];
  let passed = 0;
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const data = event.data;
    const suite = data.details?.type === 'suite';
    if (event.type === 'test:pass') {
      if (!suite) passed++;
      continue;
    }
    const error = data.details?.error;
    const failure = {
      name: data.name,
      file: data.file,
      nesting: data.nesting,
      suite,
      kind: error?.failureType ?? 'failed',
      message: firstLines(error),
      cause: error?.cause !== undefined ? firstLines(error.cause) : undefined,
      parent: undefined,
    };
    // Children finish before their parent: a cancelled child learns its cause from the parent.
    for (let i = cancelled.length - 1; i >= 0; i--) {
      const child = cancelled[i];
      if (child.file === failure.file && child.nesting === failure.nesting + 1) {
        child.parent = failure;
        cancelled.splice(i, 1);
      }
    }
    if (failure.kind === 'cancelledByParent') cancelled.push(failure);
    failures.push(failure);
  }
  const failedTests = failures.filter((f) => !f.suite).length;
  if (failures.length) {
    yield `\nNot passed (a cancelled test counts as failed, with its cause):\n`;
    for (const failure of failures) yield `${describe(failure)}\n`;
  }
  yield `\ntests: ${passed} passed, ${failedTests} failed\n`;
}
