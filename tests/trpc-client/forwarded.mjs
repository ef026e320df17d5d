// Calls through optima to the upstream of tests/trpc-client/upstream.mjs with the real
// @trpc/client v11 + superjson, the way the app would once its base URL is optima:
//
//   node forwarded.mjs <optima-base-url> <bearer-token>
//
// Prints one line per check and finally `N passed, M failed`; exits non-zero on any failure.

import assert from 'node:assert/strict';

import { TRPCClientError, createTRPCUntypedClient, httpBatchLink, httpLink } from '@trpc/client';
import superjson from 'superjson';

import { check, finish } from './check.mjs';

const [base, token] = process.argv.slice(2);
if (!base || !token) {
  console.error('usage: node forwarded.mjs <optima-base-url> <bearer-token>');
  process.exit(2);
}
const options = {
  url: `${base.replace(/\/+$/, '')}/api/trpc`,
  transformer: superjson,
  headers: () => ({ authorization: `Bearer ${token}` }),
};
const single = createTRPCUntypedClient({ links: [httpLink(options)] });
const batched = createTRPCUntypedClient({ links: [httpBatchLink(options)] });

await check('a forwarded query answers with the upstream\'s Dates', async () => {
  const feed = await single.query('r3al.feed.getFeed', { limit: 3 });
  assert.equal(feed.success, true);
  assert.equal(feed.limit, 3);
  assert.ok(feed.posts[0].createdAt instanceof Date, 'superjson meta made createdAt a Date');
});

await check('a forwarded mutation carries its superjson meta to the upstream', async () => {
  const post = await single.mutation('r3al.feed.createPost', { text: 'hi', scheduledAt: new Date('2026-05-01T00:00:00Z') });
  assert.equal(post.text, 'hi');
  assert.equal(post.scheduledIsDate, true);
});

await check('an upstream FORBIDDEN is a TRPCClientError with its code', async () => {
  await assert.rejects(single.mutation('r3al.verification.submit', { userId: 'u7' }), (e) => {
    assert.ok(e instanceof TRPCClientError, `a TRPCClientError, not ${e}`);
    assert.equal(e.data?.code, 'FORBIDDEN');
    assert.equal(e.data?.httpStatus, 403);
    assert.equal(e.message, 'not verified: u7');
    return true;
  });
});

await check('a batch mixing optima\'s and the upstream\'s procedures resolves each in order', async () => {
  const [health, feed, me] = await Promise.all([
    batched.query('r3al.system.health'),
    batched.query('r3al.feed.getFeed', { limit: 1 }),
    batched.query('r3al.auth.me'),
  ]);
  assert.equal(health.status, 'healthy');
  assert.ok(health.timestamp instanceof Date);
  assert.equal(feed.limit, 1);
  assert.ok(feed.posts[0].createdAt instanceof Date);
  assert.equal(me.success, true);
});

finish();
