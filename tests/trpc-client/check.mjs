// The check harness of the client scripts here (run.mjs, forwarded.mjs): one line per check,
// then `N passed, M failed`, and a non-zero exit on any failure.

import { TRPCClientError } from '@trpc/client';

let passed = 0;
let failed = 0;

/** Runs one named check: it fails when `fn` throws (a TRPCClientError's data is shown too). */
export async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (err) {
    failed += 1;
    const detail = err instanceof TRPCClientError ? ` (data: ${JSON.stringify(err.data)})` : '';
    console.log(`FAIL ${name}: ${err?.stack ?? err}${detail}`);
  }
}

/** Prints the tally and exits: 0 when every check passed. */
export function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}
