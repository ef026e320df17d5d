// Round-trips optima's tRPC endpoint through the real `@trpc/client` v11 with the superjson
// transformer, the way the R3AL app talks to it.
//
//   node run.mjs <base-url> <user-token> <admin-token>
//   (or TRPC_BASE_URL, TRPC_USER_TOKEN, TRPC_ADMIN_TOKEN in the environment)
//
// Prints one line per check and finally `N passed, M failed`; exits non-zero on any failure.
// There are no router types here: procedures are called by path through the untyped proxy
// (`client.r3al.system.health.query()`), which is what a typed client does at runtime.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { TRPCClientError, createTRPCClient, createTRPCUntypedClient, httpBatchLink, httpLink } from '@trpc/client';
import superjson from 'superjson';

const [base = process.env.TRPC_BASE_URL, userToken = process.env.TRPC_USER_TOKEN, adminToken = process.env.TRPC_ADMIN_TOKEN] =
  process.argv.slice(2);
if (!base || !userToken || !adminToken) {
  console.error('usage: node run.mjs <base-url> <user-token> <admin-token>');
  process.exit(2);
}
const url = `${base.replace(/\/+$/, '')}/api/trpc`;

/** The `sub` claim of a JWT: the user the token acts for. */
function tokenUser(token) {
  const payload = token.split('.')[1];
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')).sub;
}
const user = tokenUser(userToken);

/** Every HTTP request the links make, to show what went over the wire. */
const requests = [];
const recordingFetch = async (input, init) => {
  const res = await fetch(input, init);
  requests.push({ method: init?.method ?? 'GET', url: String(input), status: res.status });
  return res;
};

function linkOptions(token) {
  return {
    url,
    transformer: superjson,
    fetch: recordingFetch,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  };
}

const client = createTRPCClient({ links: [httpLink(linkOptions(userToken))] });
const admin = createTRPCClient({ links: [httpLink(linkOptions(adminToken))] });
const anonymous = createTRPCClient({ links: [httpLink(linkOptions(null))] });
const batch = createTRPCClient({ links: [httpBatchLink(linkOptions(userToken))] });
const untyped = createTRPCUntypedClient({ links: [httpLink(linkOptions(userToken))] });

let passed = 0;
let failed = 0;

async function check(name, fn) {
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

/** Awaits a call that must fail with a TRPCClientError of the given tRPC code and HTTP status. */
async function expectTrpcError(promise, code, httpStatus, path) {
  let caught;
  try {
    const value = await promise;
    assert.fail(`expected ${code} but the call resolved with ${JSON.stringify(value)}`);
  } catch (err) {
    caught = err;
  }
  if (caught instanceof assert.AssertionError) throw caught;
  assert.ok(caught instanceof TRPCClientError, `expected a TRPCClientError, got ${caught?.stack ?? caught}`);
  assert.equal(caught.data?.code, code, `data.code of ${JSON.stringify(caught.data)}`);
  assert.equal(caught.data?.httpStatus, httpStatus, `data.httpStatus of ${JSON.stringify(caught.data)}`);
  if (path !== undefined) assert.equal(caught.data?.path, path);
  assert.equal(typeof caught.message, 'string');
  assert.ok(caught.message.length > 0, 'the error has a message');
  assert.ok(!/\n\s+at /.test(caught.message), 'no stack trace in the message');
  assert.equal(caught.data?.stack, undefined, 'no stack trace in data');
  return caught;
}

const signedUrlInput = (extra = {}) => ({
  bucket: 'media',
  path: `users/${user}/a.png`,
  method: 'GET',
  expiresIn: 60,
  ...extra,
});

// ---- queries ----------------------------------------------------------------------------

await check('query without input: r3al.system.health is healthy, timestamp is a Date', async () => {
  const health = await client.r3al.system.health.query();
  assert.equal(health.success, true);
  assert.equal(health.status, 'healthy');
  assert.ok(health.timestamp instanceof Date, `timestamp is ${typeof health.timestamp}: ${health.timestamp}`);
  assert.ok(!Number.isNaN(health.timestamp.getTime()), 'timestamp is a valid date');
  assert.ok(Math.abs(Date.now() - health.timestamp.getTime()) < 5 * 60 * 1000, 'timestamp is about now');
  const last = requests.at(-1);
  assert.equal(last.method, 'GET');
  assert.match(last.url, /\/api\/trpc\/r3al\.system\.health(\?|$)/);
});

await check('query with auth: r3al.auth.me names the token user', async () => {
  const me = await client.r3al.auth.me.query();
  assert.equal(me.success, true);
  assert.equal(me.userId, user);
  assert.equal(me.role, 'user');
});

await check('query with an admin token: r3al.auth.me has role admin', async () => {
  const me = await admin.r3al.auth.me.query();
  assert.equal(me.userId, tokenUser(adminToken));
  assert.equal(me.role, 'admin');
});

await check('untyped client: client.query(path) works in v11', async () => {
  const health = await untyped.query('r3al.system.health');
  assert.equal(health.status, 'healthy');
  assert.ok(health.timestamp instanceof Date);
});

// ---- mutations --------------------------------------------------------------------------

const username = `trpc_${randomBytes(6).toString('hex')}`;
const password = `pw-${randomBytes(8).toString('hex')}`;
let registered;
let session;

await check('mutation with input: r3al.auth.register', async () => {
  registered = await client.r3al.auth.register.mutate({ username, password });
  assert.equal(registered.success, true);
  assert.equal(registered.username, username);
  assert.equal(typeof registered.userId, 'string');
  assert.equal(typeof registered.token, 'string');
  assert.ok(registered.expiresAt instanceof Date, `expiresAt is ${typeof registered.expiresAt}`);
  const last = requests.at(-1);
  assert.equal(last.method, 'POST');
  assert.match(last.url, /\/api\/trpc\/r3al\.auth\.register$/);
});

await check('mutation with input: r3al.auth.login returns a token and a Date expiresAt', async () => {
  session = await client.r3al.auth.login.mutate({ username, password });
  assert.equal(session.success, true);
  assert.equal(typeof session.token, 'string');
  assert.ok(session.token.length > 20);
  assert.equal(session.userId, registered.userId);
  assert.ok(session.expiresAt instanceof Date, `expiresAt is ${typeof session.expiresAt}`);
  assert.ok(session.expiresAt.getTime() > Date.now(), 'expiresAt is in the future');
});

await check('the login token works: r3al.auth.me with it names the new user', async () => {
  const own = createTRPCClient({ links: [httpLink(linkOptions(session.token))] });
  const me = await own.r3al.auth.me.query();
  assert.equal(me.userId, registered.userId);
  assert.equal(me.username, username);
});

await check('untyped client: client.mutation(path, input) works in v11', async () => {
  const signed = await untyped.mutation('r3al.storage.getSignedUrl', signedUrlInput());
  assert.match(signed.url, /signature=/);
});

await check('r3al.storage.getSignedUrl returns a signed url', async () => {
  const signed = await client.r3al.storage.getSignedUrl.mutate(signedUrlInput());
  assert.equal(signed.success, true);
  assert.equal(typeof signed.url, 'string');
  assert.ok(signed.url.includes('signature='), `url: ${signed.url}`);
  assert.ok(signed.url.includes(`/users/${user}/a.png`) || signed.url.includes(`users%2F${user}`), `url: ${signed.url}`);
  assert.equal(signed.method, 'GET');
  assert.ok(signed.expiresAt instanceof Date);
  const lifetime = signed.expiresAt.getTime() - Date.now();
  assert.ok(lifetime > 0 && lifetime <= 61_000, `expires in about 60 s, got ${lifetime} ms`);
});

await check('an explicitly undefined optional field (null + superjson meta) is accepted', async () => {
  // superjson sends {"json":{…,"method":null,"expiresIn":null},"meta":{"values":{"method":["undefined"],…}}}
  const signed = await client.r3al.storage.getSignedUrl.mutate(signedUrlInput({ method: undefined }));
  assert.ok(signed.url.includes('signature='), `url: ${signed.url}`);
  assert.equal(signed.method, 'GET', 'method defaults to GET');
  const both = await client.r3al.storage.getSignedUrl.mutate(signedUrlInput({ method: undefined, expiresIn: undefined }));
  assert.ok(both.url.includes('signature='));
});

await check('an admin may sign a url for another user', async () => {
  const signed = await admin.r3al.storage.getSignedUrl.mutate(signedUrlInput({ path: 'users/somebody_else/a.png' }));
  assert.ok(signed.url.includes('signature='));
});

// ---- errors -----------------------------------------------------------------------------

await check('unknown procedure -> NOT_FOUND 404', async () => {
  const err = await expectTrpcError(client.r3al.nope.missing.query(), 'NOT_FOUND', 404, 'r3al.nope.missing');
  assert.equal(err.shape?.code, -32004);
  assert.match(err.message, /No procedure found on path "r3al\.nope\.missing"/);
  assert.equal(requests.at(-1).status, 404);
});

await check('bad input (2-char username) -> BAD_REQUEST 400', async () => {
  const err = await expectTrpcError(
    client.r3al.auth.register.mutate({ username: 'ab', password: 'long-enough-password' }),
    'BAD_REQUEST',
    400,
    'r3al.auth.register',
  );
  assert.equal(err.shape?.code, -32600);
  assert.match(err.message, /username/);
});

await check('missing input -> BAD_REQUEST 400', async () => {
  await expectTrpcError(client.r3al.auth.login.mutate(), 'BAD_REQUEST', 400, 'r3al.auth.login');
});

await check('me without a token -> UNAUTHORIZED 401', async () => {
  const err = await expectTrpcError(anonymous.r3al.auth.me.query(), 'UNAUTHORIZED', 401, 'r3al.auth.me');
  assert.equal(err.shape?.code, -32001);
});

await check('me with a garbage token -> UNAUTHORIZED 401', async () => {
  const bad = createTRPCClient({ links: [httpLink(linkOptions('not-a-token'))] });
  await expectTrpcError(bad.r3al.auth.me.query(), 'UNAUTHORIZED', 401);
});

await check("another user's path in getSignedUrl -> FORBIDDEN 403", async () => {
  const err = await expectTrpcError(
    client.r3al.storage.getSignedUrl.mutate(signedUrlInput({ path: 'users/somebody_else/a.png' })),
    'FORBIDDEN',
    403,
    'r3al.storage.getSignedUrl',
  );
  assert.equal(err.shape?.code, -32003);
});

await check('a query called as a mutation -> METHOD_NOT_SUPPORTED 405', async () => {
  const err = await expectTrpcError(client.r3al.system.health.mutate(), 'METHOD_NOT_SUPPORTED', 405, 'r3al.system.health');
  assert.equal(err.shape?.code, -32005);
  assert.equal(requests.at(-1).method, 'POST');
});

await check('a mutation called as a query -> METHOD_NOT_SUPPORTED 405', async () => {
  await expectTrpcError(
    client.r3al.auth.login.query({ username, password }),
    'METHOD_NOT_SUPPORTED',
    405,
    'r3al.auth.login',
  );
  assert.equal(requests.at(-1).method, 'GET');
});

// ---- batching ---------------------------------------------------------------------------

await check('httpBatchLink: two queries together resolve in one request', async () => {
  const before = requests.length;
  const [health, me] = await Promise.all([batch.r3al.system.health.query(), batch.r3al.auth.me.query()]);
  assert.equal(health.status, 'healthy');
  assert.ok(health.timestamp instanceof Date);
  assert.equal(me.userId, user);
  const sent = requests.slice(before);
  assert.equal(sent.length, 1, `one HTTP request, got ${JSON.stringify(sent)}`);
  assert.equal(sent[0].method, 'GET');
  assert.match(sent[0].url, /\/api\/trpc\/r3al\.system\.health,r3al\.auth\.me\?batch=1/);
  assert.equal(sent[0].status, 200);
});

await check('httpBatchLink: two mutations together resolve in one request', async () => {
  const before = requests.length;
  const [a, b] = await Promise.all([
    batch.r3al.storage.getSignedUrl.mutate(signedUrlInput()),
    batch.r3al.storage.getSignedUrl.mutate(signedUrlInput({ path: `users/${user}/b.png`, method: 'PUT' })),
  ]);
  assert.ok(a.url.includes('/a.png') && a.url.includes('signature='), a.url);
  assert.ok(b.url.includes('/b.png') && b.url.includes('signature='), b.url);
  assert.equal(b.method, 'PUT');
  const sent = requests.slice(before);
  assert.equal(sent.length, 1, `one HTTP request, got ${JSON.stringify(sent)}`);
  assert.equal(sent[0].method, 'POST');
  assert.match(sent[0].url, /\?batch=1$/);
});

await check('httpBatchLink: a batch mixing success and failure resolves one, rejects the other', async () => {
  const before = requests.length;
  const [ok, bad] = await Promise.allSettled([batch.r3al.system.health.query(), batch.r3al.nope.missing.query()]);
  assert.equal(ok.status, 'fulfilled', `first: ${ok.reason?.stack ?? ''}`);
  assert.equal(ok.value.status, 'healthy');
  assert.ok(ok.value.timestamp instanceof Date);
  assert.equal(bad.status, 'rejected');
  assert.ok(bad.reason instanceof TRPCClientError);
  assert.equal(bad.reason.data?.code, 'NOT_FOUND');
  assert.equal(bad.reason.data?.httpStatus, 404);
  assert.equal(bad.reason.data?.path, 'r3al.nope.missing');
  const sent = requests.slice(before);
  assert.equal(sent.length, 1, `one HTTP request, got ${JSON.stringify(sent)}`);
  assert.equal(sent[0].status, 207);
});

await check('httpBatchLink: a batch of failures rejects each with its own code', async () => {
  const anonBatch = createTRPCClient({ links: [httpBatchLink(linkOptions(null))] });
  const [me, forbidden] = await Promise.allSettled([
    anonBatch.r3al.auth.me.query(),
    batch.r3al.storage.getSignedUrl.mutate(signedUrlInput({ path: 'users/somebody_else/a.png' })),
  ]);
  assert.equal(me.status, 'rejected');
  assert.equal(me.reason.data?.code, 'UNAUTHORIZED');
  assert.equal(forbidden.status, 'rejected');
  assert.equal(forbidden.reason.data?.code, 'FORBIDDEN');
  assert.equal(forbidden.reason.data?.httpStatus, 403);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
