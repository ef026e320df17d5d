// Round-trips optima's tRPC endpoint through the real `@trpc/client` v11 with the superjson
// transformer, the way the R3AL app talks to it.
//
//   node run.mjs <base-url> <user-token> <admin-token> [<second-user-token> [<studio-user-token> [<writer-user-token>]]]
//   (or TRPC_BASE_URL, TRPC_USER_TOKEN, TRPC_ADMIN_TOKEN, TRPC_SECOND_TOKEN, TRPC_STUDIO_TOKEN,
//   TRPC_WRITER_TOKEN in the environment)
//
// The second user token is for a user nobody else touches (the free chat quota is spent on it);
// without it the account registered below is used. The studio user token is for a fresh free
// user the Music Studio checks upgrade and downgrade; without it an account is registered. The
// writer user token is the same for the Writers Guild checks. The officer and partner tokens
// (7th and 8th) are two fresh free users the Tactical HQ checks upgrade, register and verify;
// those checks are skipped without them. The demo and guest tokens (9th and 10th) are for the
// users the app's Music Studio and Optima AI screens hard-code (`demo_user`, `guest_user`): the
// section "the app's screens, call for call" replays each screen's calls with the app's inputs
// verbatim, the one change to the app being a bearer token; it is skipped without them.
//
// Prints one line per check and finally `N passed, M failed`; exits non-zero on any failure.
// There are no router types here: procedures are called by path through the untyped proxy
// (`client.r3al.system.health.query()`), which is what a typed client does at runtime.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { TRPCClientError, createTRPCClient, createTRPCUntypedClient, httpBatchLink, httpLink } from '@trpc/client';
import superjson from 'superjson';

import { check, finish } from './check.mjs';

const [
  base = process.env.TRPC_BASE_URL,
  userToken = process.env.TRPC_USER_TOKEN,
  adminToken = process.env.TRPC_ADMIN_TOKEN,
  secondToken = process.env.TRPC_SECOND_TOKEN,
  studioArg = process.env.TRPC_STUDIO_TOKEN,
  writerArg = process.env.TRPC_WRITER_TOKEN,
  officerArg = process.env.TRPC_OFFICER_TOKEN,
  partnerArg = process.env.TRPC_PARTNER_TOKEN,
  demoArg = process.env.TRPC_DEMO_TOKEN,
  guestArg = process.env.TRPC_GUEST_TOKEN,
] = process.argv.slice(2);
if (!base || !userToken || !adminToken) {
  console.error('usage: node run.mjs <base-url> <user-token> <admin-token> [<second-user-token> [<studio-user-token> [<writer-user-token>]]]');
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

// ---- subscriptions, usage and AI chat (r3al.subscription.*, r3al.premium.*, r3al.aiChat.*) ----
//
// `user` starts on the free tier and is moved up by the admin; the chat quota is spent on a
// second, untouched user (`chatUser`), so the counts below are exact.

const DAY_MS = 24 * 60 * 60 * 1000;

/** Asserts a superjson-revived Date (not an ISO string) and returns its epoch milliseconds. */
function dateMs(value, name) {
  assert.ok(value instanceof Date, `${name} is a Date, got ${typeof value}: ${JSON.stringify(value)}`);
  assert.ok(!Number.isNaN(value.getTime()), `${name} is a valid date`);
  return value.getTime();
}

function nextUtcMidnight(now = new Date()) {
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
}

function utcMonthBounds(now = new Date()) {
  return [Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1), Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)];
}

const chatToken = secondToken ?? session?.token;
const chatUser = chatToken ? tokenUser(chatToken) : undefined;
const chatClient = chatToken ? createTRPCClient({ links: [httpLink(linkOptions(chatToken))] }) : undefined;
const needChatUser = () => assert.ok(chatClient, 'a second user token (the 4th argument) or the registered login token is needed');

let subscriptionId;
let tacticalTier;

await check('r3al.subscription.getUserTier: a new user is on the free tier with the free limits', async () => {
  const r = await client.r3al.subscription.getUserTier.query({ userId: user });
  const last = requests.at(-1);
  assert.equal(last.method, 'GET');
  assert.match(last.url, /\/api\/trpc\/r3al\.subscription\.getUserTier\?input=/);
  assert.equal(r.success, true);
  assert.equal(r.data.userId, user);
  assert.deepEqual(r.data.tier, {
    ...r.data.tier,
    tierId: 'free',
    tierName: 'free',
    displayName: 'Free',
    priceMonthly: 0,
    chatLimit: 3,
    imageGenerationLimit: 1,
    aiWritingAccess: false,
    unrestrictedContent: false,
    writersGuildAccess: false,
    tacticalFeatures: false,
    prioritySupport: false,
  });
  const s = r.data.subscription;
  assert.equal(s.status, 'active');
  assert.equal(s.subscriptionId, null);
  assert.equal(s.billingPeriod, null);
  assert.equal(s.currentPeriodStart, null);
  assert.equal(s.currentPeriodEnd, null);
  assert.equal(s.chatUsageThisPeriod, 0);
  assert.equal(s.imageGenerationUsageThisPeriod, 0);
});

await check('r3al.subscription.checkFeatureAccess: free chat has 3 left until UTC midnight; tactical is closed', async () => {
  const chat = await client.r3al.subscription.checkFeatureAccess.query({ userId: user, feature: 'chat' });
  assert.equal(chat.success, true);
  assert.equal(chat.hasAccess, true);
  assert.equal(chat.usageRemaining, 3);
  assert.equal(chat.tierName, 'free');
  assert.equal(dateMs(chat.resetDate, 'resetDate'), nextUtcMidnight());

  const images = await client.r3al.subscription.checkFeatureAccess.query({ userId: user, feature: 'image_generation' });
  assert.equal(images.hasAccess, true);
  assert.equal(images.usageRemaining, 1);
  const reset = dateMs(images.resetDate, 'resetDate');
  assert.ok(reset > Date.now() && reset <= Date.now() + 7 * DAY_MS, `weekly reset within 7 days: ${images.resetDate.toISOString()}`);
  assert.equal(new Date(reset).getUTCDay(), 1, 'the image quota resets on a Monday (ISO week)');

  const tactical = await client.r3al.subscription.checkFeatureAccess.query({ userId: user, feature: 'tactical' });
  assert.equal(tactical.hasAccess, false);
  assert.equal(tactical.tierName, 'free');
  const guild = await client.r3al.subscription.checkFeatureAccess.query({ userId: user, feature: 'writers_guild' });
  assert.equal(guild.hasAccess, false);
});

await check('r3al.subscription.checkFeatureAccess: an unknown feature -> BAD_REQUEST 400', async () => {
  await expectTrpcError(
    client.r3al.subscription.checkFeatureAccess.query({ userId: user, feature: 'teleport' }),
    'BAD_REQUEST',
    400,
    'r3al.subscription.checkFeatureAccess',
  );
});

await check('r3al.subscription.trackUsage: counts add up (count: undefined is 1) and show in getUserTier', async () => {
  const two = await client.r3al.subscription.trackUsage.mutate({ userId: user, featureType: 'chat', count: 2 });
  assert.equal(two.success, true);
  assert.equal(typeof two.message, 'string');
  assert.ok(two.message.length > 0);
  assert.equal(two.newUsage, 2);
  assert.equal(requests.at(-1).method, 'POST');
  const one = await client.r3al.subscription.trackUsage.mutate({ userId: user, featureType: 'chat', count: undefined });
  assert.equal(one.newUsage, 3, 'an undefined count defaults to 1');
  const image = await client.r3al.subscription.trackUsage.mutate({ userId: user, featureType: 'image_generation', count: 1 });
  assert.equal(image.newUsage, 1);

  const tier = await client.r3al.subscription.getUserTier.query({ userId: user });
  assert.equal(tier.data.subscription.chatUsageThisPeriod, 3);
  assert.equal(tier.data.subscription.imageGenerationUsageThisPeriod, 1);
  const chat = await client.r3al.subscription.checkFeatureAccess.query({ userId: user, feature: 'chat' });
  assert.equal(chat.hasAccess, false, 'the free chat quota is used up');
  assert.equal(chat.usageRemaining, 0);
  assert.equal(chat.tierName, 'free');
});

await check('r3al.subscription.trackUsage: an unmetered feature or a zero count -> BAD_REQUEST 400', async () => {
  await expectTrpcError(
    client.r3al.subscription.trackUsage.mutate({ userId: user, featureType: 'tactical', count: 1 }),
    'BAD_REQUEST',
    400,
    'r3al.subscription.trackUsage',
  );
  await expectTrpcError(
    client.r3al.subscription.trackUsage.mutate({ userId: user, featureType: 'chat', count: 0 }),
    'BAD_REQUEST',
    400,
  );
});

await check('r3al.subscription.*: another user -> FORBIDDEN 403, no token -> UNAUTHORIZED 401', async () => {
  await expectTrpcError(
    client.r3al.subscription.getUserTier.query({ userId: 'somebody_else' }),
    'FORBIDDEN',
    403,
    'r3al.subscription.getUserTier',
  );
  await expectTrpcError(
    client.r3al.subscription.trackUsage.mutate({ userId: 'somebody_else', featureType: 'chat', count: 1 }),
    'FORBIDDEN',
    403,
  );
  await expectTrpcError(anonymous.r3al.subscription.getUserTier.query({ userId: user }), 'UNAUTHORIZED', 401);
});

await check("r3al.subscription.upgradeTier: a user's own upgrade with the manual provider -> FORBIDDEN 403", async () => {
  const err = await expectTrpcError(
    client.r3al.subscription.upgradeTier.mutate({ userId: user, targetTier: 'premium', billingPeriod: 'monthly', paymentMethod: undefined }),
    'FORBIDDEN',
    403,
    'r3al.subscription.upgradeTier',
  );
  assert.equal(err.shape?.code, -32003);
  const tier = await client.r3al.subscription.getUserTier.query({ userId: user });
  assert.equal(tier.data.tier.tierName, 'free', 'the refused upgrade changed nothing');
});

await check('r3al.subscription.upgradeTier: the admin moves the user to premium (paymentMethod: undefined)', async () => {
  const up = await admin.r3al.subscription.upgradeTier.mutate({
    userId: user,
    targetTier: 'premium',
    billingPeriod: 'monthly',
    paymentMethod: undefined,
  });
  assert.equal(up.success, true);
  assert.equal(typeof up.message, 'string');
  assert.match(up.message, /premium/);
  assert.equal(typeof up.subscriptionId, 'string');
  assert.ok(up.subscriptionId.length > 0);
  assert.ok('externalSubscriptionId' in up, 'externalSubscriptionId is present');
  assert.equal(up.externalSubscriptionId, null, 'no external payment with the manual provider');
  subscriptionId = up.subscriptionId;
});

await check('r3al.subscription.getUserTier: premium limits, and a monthly period as Date objects', async () => {
  const before = Date.now();
  const r = await client.r3al.subscription.getUserTier.query({ userId: user });
  const t = r.data.tier;
  assert.equal(t.tierId, 'premium');
  assert.equal(t.tierName, 'premium');
  assert.equal(t.displayName, 'Premium');
  assert.equal(t.priceMonthly, 9.99);
  assert.equal(t.chatLimit, 100);
  assert.equal(t.imageGenerationLimit, 20);
  assert.equal(t.aiWritingAccess, true);
  assert.equal(t.writersGuildAccess, true);
  assert.equal(t.unrestrictedContent, false);
  assert.equal(t.tacticalFeatures, false);
  assert.equal(t.prioritySupport, false);
  const s = r.data.subscription;
  assert.equal(s.subscriptionId, subscriptionId);
  assert.equal(s.status, 'active');
  assert.equal(s.billingPeriod, 'monthly');
  assert.equal(s.chatUsageThisPeriod, 3, 'the daily chat use carries over (same day window)');
  assert.equal(typeof s.imageGenerationUsageThisPeriod, 'number');
  const start = dateMs(s.currentPeriodStart, 'subscription.currentPeriodStart');
  const end = dateMs(s.currentPeriodEnd, 'subscription.currentPeriodEnd');
  assert.ok(Math.abs(before - start) < 5 * 60 * 1000, 'the period started at the upgrade');
  const days = (end - start) / DAY_MS;
  assert.ok(days >= 28 && days <= 31, `a monthly period, got ${days} days`);
});

await check('r3al.subscription.checkFeatureAccess: premium chat has 97 left', async () => {
  const chat = await client.r3al.subscription.checkFeatureAccess.query({ userId: user, feature: 'chat' });
  assert.equal(chat.hasAccess, true);
  assert.equal(chat.usageRemaining, 97);
  assert.equal(chat.tierName, 'premium');
  assert.equal(dateMs(chat.resetDate, 'resetDate'), nextUtcMidnight());
});

await check('r3al.subscription.upgradeTier: the tier the user is on -> CONFLICT 409; bad tier/period -> BAD_REQUEST', async () => {
  await expectTrpcError(
    admin.r3al.subscription.upgradeTier.mutate({ userId: user, targetTier: 'premium', billingPeriod: 'monthly' }),
    'CONFLICT',
    409,
    'r3al.subscription.upgradeTier',
  );
  await expectTrpcError(
    admin.r3al.subscription.upgradeTier.mutate({ userId: user, targetTier: 'gold', billingPeriod: 'monthly' }),
    'BAD_REQUEST',
    400,
  );
  await expectTrpcError(
    admin.r3al.subscription.upgradeTier.mutate({ userId: user, targetTier: 'tactical', billingPeriod: 'weekly' }),
    'BAD_REQUEST',
    400,
  );
});

await check("r3al.subscription.upgradeTier to 'tactical' (yearly): the unlimited tier, named tactical", async () => {
  const up = await admin.r3al.subscription.upgradeTier.mutate({ userId: user, targetTier: 'tactical', billingPeriod: 'yearly' });
  assert.equal(up.success, true);
  assert.equal(typeof up.subscriptionId, 'string');
  const r = await client.r3al.subscription.getUserTier.query({ userId: user });
  tacticalTier = r;
  const t = r.data.tier;
  assert.equal(t.tierId, 'unlimited');
  assert.equal(t.tierName, 'tactical');
  assert.equal(t.priceMonthly, 29.99);
  assert.equal(t.chatLimit, null, 'unlimited chat');
  assert.equal(t.imageGenerationLimit, null);
  assert.equal(t.tacticalFeatures, true);
  assert.equal(t.unrestrictedContent, true);
  assert.equal(t.prioritySupport, true);
  assert.equal(t.writersGuildAccess, true);
  assert.equal(t.aiWritingAccess, true);
  const s = r.data.subscription;
  assert.equal(s.billingPeriod, 'yearly');
  assert.equal(s.subscriptionId, up.subscriptionId);

  const tactical = await client.r3al.subscription.checkFeatureAccess.query({ userId: user, feature: 'tactical' });
  assert.equal(tactical.hasAccess, true);
  assert.equal(tactical.tierName, 'tactical');
  const chat = await client.r3al.subscription.checkFeatureAccess.query({ userId: user, feature: 'chat' });
  assert.equal(chat.hasAccess, true);
  assert.equal(chat.usageRemaining, null, 'null = unlimited');
  assert.equal(chat.tierName, 'tactical');
  dateMs(chat.resetDate, 'resetDate');

  const days = (dateMs(s.currentPeriodEnd, 'subscription.currentPeriodEnd') - dateMs(s.currentPeriodStart, 'subscription.currentPeriodStart')) / DAY_MS;
  assert.ok(days >= 365 && days <= 366, `a yearly period, got ${days} days`);
});

await check('r3al.premium.getUsageSummary: the tactical user sees its billing period as Dates and all features', async () => {
  const r = await client.r3al.premium.getUsageSummary.query({ userId: user });
  assert.equal(r.success, true);
  const u = r.usage;
  assert.equal(u.userId, user);
  assert.equal(u.tier, 'tactical');
  assert.deepEqual(u.chat, { used: 3, limit: null });
  assert.equal(u.imageGeneration.limit, null);
  assert.deepEqual(u.aiWriting, { sessionsUsed: 0, wordsProcessed: 0, limit: null });
  assert.deepEqual(u.features, { unrestrictedContent: true, writersGuildAccess: true, prioritySupport: true, tacticalAccess: true });
  const start = dateMs(u.currentPeriod.start, 'currentPeriod.start');
  const end = dateMs(u.currentPeriod.end, 'currentPeriod.end');
  const sub = tacticalTier?.data.subscription;
  if (sub?.currentPeriodStart instanceof Date) assert.equal(start, sub.currentPeriodStart.getTime(), 'same period as getUserTier');
  if (sub?.currentPeriodEnd instanceof Date) assert.equal(end, sub.currentPeriodEnd.getTime(), 'same period as getUserTier');
  const days = (end - start) / DAY_MS;
  assert.ok(days >= 365 && days <= 366, `the yearly billing period, got ${days} days`);
});

// ---- AI chat ------------------------------------------------------------------------------

let firstReply;
let secondReply;
const firstText = 'Hello! How many messages do I have left?';
const secondText = 'Help me tighten the pacing of chapter two.';
const thirdText = 'And what about the dialogue?';

await check('r3al.premium.getUsageSummary: a fresh free user has used nothing this calendar month', async () => {
  needChatUser();
  const r = await chatClient.r3al.premium.getUsageSummary.query({ userId: chatUser });
  const u = r.usage;
  assert.equal(u.userId, chatUser);
  assert.equal(u.tier, 'free');
  assert.deepEqual(u.chat, { used: 0, limit: 3 });
  assert.deepEqual(u.imageGeneration, { used: 0, limit: 1 });
  assert.deepEqual(u.aiWriting, { sessionsUsed: 0, wordsProcessed: 0, limit: 0 });
  assert.deepEqual(u.features, { unrestrictedContent: false, writersGuildAccess: false, prioritySupport: false, tacticalAccess: false });
  const [monthStart, monthEnd] = utcMonthBounds();
  assert.equal(dateMs(u.currentPeriod.start, 'currentPeriod.start'), monthStart);
  assert.equal(dateMs(u.currentPeriod.end, 'currentPeriod.end'), monthEnd);
});

await check('r3al.aiChat.sendMessage: a new session (sessionId: undefined), 2 of 3 free messages left', async () => {
  needChatUser();
  const before = Date.now();
  const r = await chatClient.r3al.aiChat.sendMessage.mutate({
    userId: chatUser,
    sessionId: undefined,
    message: firstText,
    context: 'general',
    temperature: 0.7,
  });
  assert.equal(requests.at(-1).method, 'POST');
  assert.match(requests.at(-1).url, /\/api\/trpc\/r3al\.aiChat\.sendMessage$/);
  assert.equal(r.success, true);
  assert.equal(r.hasUnrestrictedAccess, false);
  const d = r.data;
  assert.equal(typeof d.sessionId, 'string');
  assert.ok(d.sessionId.length > 0);
  assert.equal(typeof d.messageId, 'string');
  assert.ok(d.messageId.length > 0);
  assert.equal(typeof d.response, 'string');
  assert.ok(d.response.length > 0);
  assert.match(d.response, /2 chat messages left/, 'the offline assistant answers from the real quota');
  assert.ok(Number.isInteger(d.tokens) && d.tokens > 0, `tokens: ${d.tokens}`);
  const at = dateMs(d.timestamp, 'data.timestamp');
  assert.ok(at >= before - 1000 && at <= Date.now() + 1000, 'timestamp is the answer time');
  assert.equal(d.remainingMessages, 2);
  firstReply = d;

  const summary = await chatClient.r3al.premium.getUsageSummary.query({ userId: chatUser });
  assert.deepEqual(summary.usage.chat, { used: 1, limit: 3 }, 'one message sent, one counted');
});

await check("r3al.aiChat.sendMessage: 'tactical' context on the free tier -> FORBIDDEN 403 (upgrade), nothing charged", async () => {
  needChatUser();
  const err = await expectTrpcError(
    chatClient.r3al.aiChat.sendMessage.mutate({ userId: chatUser, message: 'status report', context: 'tactical', temperature: 0.7 }),
    'FORBIDDEN',
    403,
    'r3al.aiChat.sendMessage',
  );
  assert.match(err.message, /upgrad/i);
  const summary = await chatClient.r3al.premium.getUsageSummary.query({ userId: chatUser });
  assert.equal(summary.usage.chat.used, 1);
});

await check('r3al.aiChat.sendMessage: bad input (temperature 3, empty message, unknown context) -> BAD_REQUEST 400', async () => {
  needChatUser();
  const base = { userId: chatUser, sessionId: undefined, message: 'hi', context: 'general', temperature: 0.7 };
  await expectTrpcError(chatClient.r3al.aiChat.sendMessage.mutate({ ...base, temperature: 3 }), 'BAD_REQUEST', 400);
  await expectTrpcError(chatClient.r3al.aiChat.sendMessage.mutate({ ...base, message: '   ' }), 'BAD_REQUEST', 400);
  await expectTrpcError(chatClient.r3al.aiChat.sendMessage.mutate({ ...base, context: 'poetry' }), 'BAD_REQUEST', 400);
  const summary = await chatClient.r3al.premium.getUsageSummary.query({ userId: chatUser });
  assert.equal(summary.usage.chat.used, 1, 'refused input is not charged');
});

await check('r3al.aiChat.sendMessage: continuing the session keeps its id, 1 left', async () => {
  needChatUser();
  assert.ok(firstReply, 'the first message was sent');
  const r = await chatClient.r3al.aiChat.sendMessage.mutate({
    userId: chatUser,
    sessionId: firstReply.sessionId,
    message: secondText,
    context: 'writing',
    temperature: 1.2,
  });
  assert.equal(r.data.sessionId, firstReply.sessionId);
  assert.notEqual(r.data.messageId, firstReply.messageId);
  assert.equal(r.data.remainingMessages, 1);
  assert.ok(dateMs(r.data.timestamp, 'data.timestamp') >= firstReply.timestamp.getTime());
  secondReply = r.data;
});

await check('r3al.aiChat.getSessionHistory: both turns, in order, with Date timestamps; paging', async () => {
  needChatUser();
  assert.ok(secondReply, 'two messages were sent');
  const r = await chatClient.r3al.aiChat.getSessionHistory.query({ userId: chatUser, sessionId: firstReply.sessionId, limit: 50, offset: 0 });
  assert.equal(r.success, true);
  assert.equal(r.hasMore, false);
  assert.equal(r.messages.length, 4);
  assert.deepEqual(r.messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);
  assert.deepEqual(r.messages.map((m) => m.context), ['general', 'general', 'writing', 'writing']);
  assert.equal(r.messages[0].content, firstText);
  assert.equal(r.messages[1].content, firstReply.response);
  assert.equal(r.messages[1].messageId, firstReply.messageId);
  assert.equal(r.messages[2].content, secondText);
  assert.equal(r.messages[3].content, secondReply.response);
  assert.equal(r.messages[3].messageId, secondReply.messageId);
  const times = r.messages.map((m, i) => dateMs(m.timestamp, `messages.${i}.timestamp`));
  assert.deepEqual([...times].sort((a, b) => a - b), times, 'oldest first');
  assert.equal(new Set(r.messages.map((m) => m.messageId)).size, 4);

  const page1 = await chatClient.r3al.aiChat.getSessionHistory.query({ userId: chatUser, sessionId: firstReply.sessionId, limit: 1, offset: 0 });
  assert.equal(page1.messages.length, 1);
  assert.equal(page1.messages[0].content, firstText);
  assert.equal(page1.hasMore, true);
  const page2 = await chatClient.r3al.aiChat.getSessionHistory.query({ userId: chatUser, sessionId: firstReply.sessionId, limit: 2, offset: 2 });
  assert.deepEqual(page2.messages.map((m) => m.content), [secondText, secondReply.response]);
  assert.equal(page2.hasMore, false);
  const defaults = await chatClient.r3al.aiChat.getSessionHistory.query({
    userId: chatUser,
    sessionId: firstReply.sessionId,
    limit: undefined,
    offset: undefined,
  });
  assert.equal(defaults.messages.length, 4, 'limit/offset undefined take their defaults');
});

await check("r3al.aiChat: another user's session -> NOT_FOUND 404 (history and send); acting for another user -> FORBIDDEN", async () => {
  needChatUser();
  assert.ok(firstReply, 'the chat user has a session');
  const err = await expectTrpcError(
    client.r3al.aiChat.getSessionHistory.query({ userId: user, sessionId: firstReply.sessionId, limit: 50, offset: 0 }),
    'NOT_FOUND',
    404,
    'r3al.aiChat.getSessionHistory',
  );
  assert.equal(err.shape?.code, -32004);
  await expectTrpcError(
    client.r3al.aiChat.sendMessage.mutate({ userId: user, sessionId: firstReply.sessionId, message: 'hi', context: 'general', temperature: 0.7 }),
    'NOT_FOUND',
    404,
    'r3al.aiChat.sendMessage',
  );
  await expectTrpcError(
    chatClient.r3al.aiChat.getSessionHistory.query({ userId: chatUser, sessionId: 'no-such-session', limit: 50, offset: 0 }),
    'NOT_FOUND',
    404,
  );
  await expectTrpcError(
    client.r3al.aiChat.getSessionHistory.query({ userId: chatUser, sessionId: firstReply.sessionId, limit: 50, offset: 0 }),
    'FORBIDDEN',
    403,
  );
  await expectTrpcError(
    client.r3al.aiChat.sendMessage.mutate({ userId: chatUser, message: 'hi', context: 'general', temperature: 0.7 }),
    'FORBIDDEN',
    403,
  );
  const summary = await chatClient.r3al.premium.getUsageSummary.query({ userId: chatUser });
  assert.equal(summary.usage.chat.used, 2, 'none of the refused calls was charged');
});

await check('r3al.aiChat.sendMessage: the 3rd free message is the last; the 4th -> FORBIDDEN 403 telling to upgrade', async () => {
  needChatUser();
  assert.ok(firstReply, 'the chat user has a session');
  const third = await chatClient.r3al.aiChat.sendMessage.mutate({
    userId: chatUser,
    sessionId: firstReply.sessionId,
    message: thirdText,
    context: 'writing',
    temperature: 0.7,
  });
  assert.equal(third.data.remainingMessages, 0);

  const err = await expectTrpcError(
    chatClient.r3al.aiChat.sendMessage.mutate({ userId: chatUser, sessionId: firstReply.sessionId, message: 'one more?', context: 'general', temperature: 0.7 }),
    'FORBIDDEN',
    403,
    'r3al.aiChat.sendMessage',
  );
  assert.equal(err.shape?.code, -32003);
  assert.match(err.message, /upgrad/i);
  assert.equal(requests.at(-1).status, 403);
  // A new session is refused as well: the quota is the user's, not the session's.
  await expectTrpcError(
    chatClient.r3al.aiChat.sendMessage.mutate({ userId: chatUser, sessionId: undefined, message: 'new chat', context: 'general', temperature: 0.7 }),
    'FORBIDDEN',
    403,
  );

  const history = await chatClient.r3al.aiChat.getSessionHistory.query({ userId: chatUser, sessionId: firstReply.sessionId, limit: 50, offset: 0 });
  assert.equal(history.messages.length, 6, 'three exchanges stored, the refused message not');
  assert.equal(history.messages[4].content, thirdText);
  const summary = await chatClient.r3al.premium.getUsageSummary.query({ userId: chatUser });
  assert.deepEqual(summary.usage.chat, { used: 3, limit: 3 });
  const access = await chatClient.r3al.subscription.checkFeatureAccess.query({ userId: chatUser, feature: 'chat' });
  assert.equal(access.hasAccess, false);
  assert.equal(access.usageRemaining, 0);
  assert.equal(access.tierName, 'free');
  assert.equal(dateMs(access.resetDate, 'resetDate'), nextUtcMidnight());
  const tier = await chatClient.r3al.subscription.getUserTier.query({ userId: chatUser });
  assert.equal(tier.data.subscription.chatUsageThisPeriod, 3);
});

await check("r3al.aiChat.sendMessage: the tactical user chats in 'tactical' context, unlimited, and it is counted", async () => {
  const before = await client.r3al.premium.getUsageSummary.query({ userId: user });
  const r = await client.r3al.aiChat.sendMessage.mutate({ userId: user, message: 'What tier am I on?', context: 'tactical', temperature: 0.2 });
  assert.equal(r.hasUnrestrictedAccess, true);
  assert.equal(r.data.remainingMessages, null, 'null = unlimited');
  assert.match(r.data.response, /unlimited tier/);
  dateMs(r.data.timestamp, 'data.timestamp');
  const history = await client.r3al.aiChat.getSessionHistory.query({ userId: user, sessionId: r.data.sessionId, limit: 50, offset: 0 });
  assert.deepEqual(history.messages.map((m) => m.context), ['tactical', 'tactical']);
  const after = await client.r3al.premium.getUsageSummary.query({ userId: user });
  assert.equal(after.usage.chat.used, before.usage.chat.used + 1);
});

await check('httpBatchLink: getUserTier, checkFeatureAccess and getUsageSummary in one request', async () => {
  const sent = requests.length;
  const [tier, access, summary] = await Promise.all([
    batch.r3al.subscription.getUserTier.query({ userId: user }),
    batch.r3al.subscription.checkFeatureAccess.query({ userId: user, feature: 'tactical' }),
    batch.r3al.premium.getUsageSummary.query({ userId: user }),
  ]);
  assert.equal(requests.length - sent, 1, 'one HTTP request');
  assert.equal(tier.data.tier.tierName, 'tactical');
  assert.equal(access.hasAccess, true);
  assert.equal(summary.usage.tier, 'tactical');
  dateMs(summary.usage.currentPeriod.start, 'currentPeriod.start');
});

// ---- Music Studio (r3al.studio.*) -----------------------------------------------------------
//
// `studioUser` (the 5th argument, or a freshly registered account) starts on the free tier, is
// refused, then is moved to premium by the admin. `user` (tactical by now) owns a project the
// studio user must not see. At the end the admin moves the studio user back to free.

const studioToken = studioArg ?? (await registerFreshUser('studio'));
const studioUser = studioToken ? tokenUser(studioToken) : undefined;
const studio = studioToken ? createTRPCClient({ links: [httpLink(linkOptions(studioToken))] }) : undefined;
const needStudioUser = () => assert.ok(studio, 'a studio user token (the 5th argument) or a registered account is needed');

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
let studioProject; // premium: created, generated, shared
let draftProject; // premium: stays a draft
let otherProject; // `user`'s
let generatedStem;
let sharePage;

async function registerFreshUser(prefix) {
  try {
    const name = `${prefix}_${randomBytes(6).toString('hex')}`;
    const pw = `pw-${randomBytes(8).toString('hex')}`;
    await anonymous.r3al.auth.register.mutate({ username: name, password: pw });
    return (await anonymous.r3al.auth.login.mutate({ username: name, password: pw })).token;
  } catch {
    return undefined;
  }
}

/** Fetches a URL as a stranger would (no Authorization header). */
async function fetchPlain(href) {
  const res = await fetch(href, { redirect: 'manual' });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type') ?? '', bytes };
}

function looksLikeMp3(bytes) {
  if (bytes.length < 4) return false;
  if (bytes.subarray(0, 3).toString('latin1') === 'ID3') return true;
  return bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0;
}

await check('r3al.studio.createProject: a free user -> FORBIDDEN 403 telling to upgrade; nothing created', async () => {
  needStudioUser();
  const err = await expectTrpcError(
    studio.r3al.studio.createProject.mutate({ userId: studioUser, title: 'Free try', genre: 'ambient', bpm: 90 }),
    'FORBIDDEN',
    403,
    'r3al.studio.createProject',
  );
  assert.equal(err.shape?.code, -32003);
  assert.match(err.message, /upgrad/i);
  assert.equal(requests.at(-1).method, 'POST');
  assert.equal(requests.at(-1).status, 403);
  const list = await studio.r3al.studio.getProjects.query({ userId: studioUser });
  assert.equal(list.success, true);
  assert.deepEqual(list.projects, []);
  assert.equal(list.total, 0);
});

await check("r3al.studio.*: acting for another user -> FORBIDDEN 403; no token -> UNAUTHORIZED 401", async () => {
  needStudioUser();
  await expectTrpcError(
    studio.r3al.studio.getProjects.query({ userId: user, limit: 20, offset: 0 }),
    'FORBIDDEN',
    403,
    'r3al.studio.getProjects',
  );
  await expectTrpcError(
    anonymous.r3al.studio.getProjects.query({ userId: studioUser, limit: 20, offset: 0 }),
    'UNAUTHORIZED',
    401,
    'r3al.studio.getProjects',
  );
  await expectTrpcError(anonymous.r3al.studio.createProject.mutate({ userId: studioUser, title: 'x' }), 'UNAUTHORIZED', 401);
});

await check('r3al.subscription.upgradeTier: the admin moves the studio user to premium (monthly)', async () => {
  needStudioUser();
  const up = await admin.r3al.subscription.upgradeTier.mutate({ userId: studioUser, targetTier: 'premium', billingPeriod: 'monthly' });
  assert.equal(up.success, true);
  assert.equal(typeof up.subscriptionId, 'string');
  const tier = await studio.r3al.subscription.getUserTier.query({ userId: studioUser });
  assert.equal(tier.data.tier.tierName, 'premium');
});

await check('r3al.studio.createProject: premium user -> a draft, private project with a Date createdAt', async () => {
  needStudioUser();
  const before = Date.now();
  const r = await studio.r3al.studio.createProject.mutate({
    userId: studioUser,
    title: '  Night Drive  ',
    genre: 'electronic',
    bpm: 120,
    mood: 'dreamy',
    key: 'Am',
  });
  assert.equal(requests.at(-1).method, 'POST');
  assert.match(requests.at(-1).url, /\/api\/trpc\/r3al\.studio\.createProject$/);
  assert.equal(r.success, true);
  const p = r.project;
  assert.match(p.projectId, UUID_RE, `projectId: ${p.projectId}`);
  assert.equal(p.userId, studioUser);
  assert.equal(p.title, 'Night Drive', 'the title is trimmed');
  assert.equal(p.genre, 'electronic');
  assert.equal(p.bpm, 120);
  assert.equal(p.key, 'Am');
  assert.equal(p.status, 'draft');
  assert.equal(p.visibility, 'private');
  const at = dateMs(p.createdAt, 'project.createdAt');
  assert.ok(at >= before - 1000 && at <= Date.now() + 1000, 'createdAt is the creation time');
  studioProject = p;
});

await check('r3al.studio.createProject: optional fields undefined (null + superjson meta) are absent', async () => {
  needStudioUser();
  const r = await studio.r3al.studio.createProject.mutate({
    userId: studioUser,
    title: 'Sketch',
    genre: undefined,
    bpm: undefined,
    mood: undefined,
    key: undefined,
  });
  const p = r.project;
  assert.match(p.projectId, UUID_RE);
  assert.notEqual(p.projectId, studioProject?.projectId);
  assert.equal(p.genre, null);
  assert.equal(p.bpm, null);
  assert.equal(p.key, null);
  assert.equal(p.status, 'draft');
  dateMs(p.createdAt, 'project.createdAt');
  draftProject = p;
});

await check('r3al.studio.createProject: bad input (bpm 500, 39 or 120.5, empty or 501-char title, bad key) -> BAD_REQUEST 400; nothing created', async () => {
  needStudioUser();
  const base = { userId: studioUser, title: 'Too fast' };
  const err = await expectTrpcError(
    studio.r3al.studio.createProject.mutate({ ...base, bpm: 500 }),
    'BAD_REQUEST',
    400,
    'r3al.studio.createProject',
  );
  assert.equal(err.shape?.code, -32600);
  assert.match(err.message, /bpm/);
  await expectTrpcError(studio.r3al.studio.createProject.mutate({ ...base, bpm: 39 }), 'BAD_REQUEST', 400);
  await expectTrpcError(studio.r3al.studio.createProject.mutate({ ...base, title: '   ' }), 'BAD_REQUEST', 400);
  await expectTrpcError(studio.r3al.studio.createProject.mutate({ ...base, title: 'x'.repeat(501) }), 'BAD_REQUEST', 400);
  await expectTrpcError(studio.r3al.studio.createProject.mutate({ ...base, bpm: 120.5 }), 'BAD_REQUEST', 400);
  await expectTrpcError(studio.r3al.studio.createProject.mutate({ ...base, key: 'H#' }), 'BAD_REQUEST', 400);
  const list = await studio.r3al.studio.getProjects.query({ userId: studioUser });
  assert.equal(list.total, 2, 'only the two good projects exist');
});

await check('r3al.studio.shareMusic: a draft project -> CONFLICT 409', async () => {
  needStudioUser();
  assert.ok(studioProject, 'a project was created');
  const err = await expectTrpcError(
    studio.r3al.studio.shareMusic.mutate({ projectId: studioProject.projectId, userId: studioUser, platforms: ['facebook'] }),
    'CONFLICT',
    409,
    'r3al.studio.shareMusic',
  );
  assert.equal(err.shape?.code, -32009);
  assert.equal(requests.at(-1).status, 409);
  const list = await studio.r3al.studio.getProjects.query({ userId: studioUser, status: 'draft' });
  assert.equal(list.total, 2, 'still drafts');
});

await check('r3al.studio.generateMusic: 10 s of electronic -> a stem whose http fileUrl plays MP3 without a token', async () => {
  needStudioUser();
  assert.ok(studioProject, 'a project was created');
  const usageBefore = await studio.r3al.premium.getUsageSummary.query({ userId: studioUser });
  const r = await studio.r3al.studio.generateMusic.mutate({
    projectId: studioProject.projectId,
    userId: studioUser,
    prompt: 'a calm synthwave drive at night',
    duration: 10,
    style: 'electronic',
    instrument: 'synth',
  });
  assert.equal(requests.at(-1).method, 'POST');
  assert.equal(r.success, true);
  assert.equal(typeof r.message, 'string');
  assert.ok(r.message.length > 0);
  const s = r.stem;
  assert.equal(typeof s.stemId, 'string');
  assert.ok(s.stemId.length > 0);
  assert.equal(s.instrument, 'synth');
  assert.equal(typeof s.duration, 'number');
  assert.ok(Math.abs(s.duration - 10) <= 1, `about 10 s, got ${s.duration}`);
  assert.equal(typeof s.fileUrl, 'string');
  assert.ok(!s.fileUrl.startsWith('data:'), 'not a data: URL');
  const u = new URL(s.fileUrl);
  assert.ok(u.protocol === 'http:' || u.protocol === 'https:', `an http URL: ${s.fileUrl}`);

  const audio = await fetchPlain(s.fileUrl);
  assert.equal(audio.status, 200, `GET ${s.fileUrl} without a token`);
  assert.match(audio.type, /^audio\/mpeg/, `content-type ${audio.type}`);
  assert.ok(audio.bytes.length > 1000, `a real file, ${audio.bytes.length} bytes`);
  assert.ok(looksLikeMp3(audio.bytes), `MP3 frame sync or ID3, got ${audio.bytes.subarray(0, 4).toString('hex')}`);
  generatedStem = s;

  const usageAfter = await studio.r3al.premium.getUsageSummary.query({ userId: studioUser });
  assert.equal(usageAfter.usage.musicGeneration.used, usageBefore.usage.musicGeneration.used + 1, 'one generation charged');
});

await check('r3al.studio.generateMusic: bad input (unknown style, duration 9/181/12.5, empty prompt) -> BAD_REQUEST 400, not charged', async () => {
  needStudioUser();
  assert.ok(studioProject, 'a project was created');
  const usageBefore = await studio.r3al.premium.getUsageSummary.query({ userId: studioUser });
  const base = { projectId: studioProject.projectId, userId: studioUser, prompt: 'anything', duration: 10 };
  const err = await expectTrpcError(
    studio.r3al.studio.generateMusic.mutate({ ...base, style: 'polka' }),
    'BAD_REQUEST',
    400,
    'r3al.studio.generateMusic',
  );
  assert.match(err.message, /style/);
  await expectTrpcError(studio.r3al.studio.generateMusic.mutate({ ...base, duration: 9 }), 'BAD_REQUEST', 400);
  await expectTrpcError(studio.r3al.studio.generateMusic.mutate({ ...base, duration: 181 }), 'BAD_REQUEST', 400);
  await expectTrpcError(studio.r3al.studio.generateMusic.mutate({ ...base, duration: 12.5 }), 'BAD_REQUEST', 400);
  await expectTrpcError(studio.r3al.studio.generateMusic.mutate({ ...base, prompt: '  ' }), 'BAD_REQUEST', 400);
  const usageAfter = await studio.r3al.premium.getUsageSummary.query({ userId: studioUser });
  assert.equal(usageAfter.usage.musicGeneration.used, usageBefore.usage.musicGeneration.used, 'refused input is not charged');
});

await check("r3al.studio.generateMusic / shareMusic: another user's project -> NOT_FOUND 404", async () => {
  needStudioUser();
  const mine = await client.r3al.studio.createProject.mutate({ userId: user, title: 'Not yours', genre: 'jazz', bpm: 100 });
  otherProject = mine.project;
  assert.equal(otherProject.userId, user);
  const err = await expectTrpcError(
    studio.r3al.studio.generateMusic.mutate({ projectId: otherProject.projectId, userId: studioUser, prompt: 'steal it', duration: 10 }),
    'NOT_FOUND',
    404,
    'r3al.studio.generateMusic',
  );
  assert.equal(err.shape?.code, -32004);
  await expectTrpcError(
    studio.r3al.studio.shareMusic.mutate({ projectId: otherProject.projectId, userId: studioUser, platforms: ['twitter'] }),
    'NOT_FOUND',
    404,
    'r3al.studio.shareMusic',
  );
  await expectTrpcError(
    studio.r3al.studio.generateMusic.mutate({ projectId: '00000000-0000-7000-8000-000000000000', userId: studioUser, prompt: 'x', duration: 10 }),
    'NOT_FOUND',
    404,
  );
  const theirs = await client.r3al.studio.getProjects.query({ userId: user });
  const still = theirs.projects.find((p) => p.projectId === otherProject.projectId);
  assert.ok(still, "the owner still sees it");
  assert.equal(still.status, 'draft', 'untouched');
  assert.equal(still.stemCount, 0);
});

await check('r3al.studio.getProjects: both projects with full fields and Date timestamps; status filter; paging', async () => {
  needStudioUser();
  assert.ok(studioProject && draftProject && generatedStem, 'two projects, one generated');
  const r = await studio.r3al.studio.getProjects.query({ userId: studioUser, limit: 20, offset: 0 });
  assert.equal(requests.at(-1).method, 'GET');
  assert.match(requests.at(-1).url, /\/api\/trpc\/r3al\.studio\.getProjects\?input=/);
  assert.equal(r.success, true);
  assert.equal(r.total, 2);
  assert.equal(r.projects.length, 2);
  assert.deepEqual(new Set(r.projects.map((p) => p.projectId)), new Set([studioProject.projectId, draftProject.projectId]));
  for (const [i, p] of r.projects.entries()) {
    for (const k of ['projectId', 'userId', 'title', 'genre', 'bpm', 'key', 'duration', 'status', 'visibility', 'stemCount', 'totalPlays', 'createdAt', 'updatedAt']) {
      assert.ok(k in p, `projects.${i}.${k} is present`);
    }
    assert.equal(p.userId, studioUser);
    const created = dateMs(p.createdAt, `projects.${i}.createdAt`);
    const updated = dateMs(p.updatedAt, `projects.${i}.updatedAt`);
    assert.ok(updated >= created, 'updatedAt is not before createdAt');
  }
  const done = r.projects.find((p) => p.projectId === studioProject.projectId);
  assert.equal(done.title, 'Night Drive');
  assert.equal(done.genre, 'electronic');
  assert.equal(done.bpm, 120);
  assert.equal(done.key, 'Am');
  assert.equal(done.status, 'completed');
  assert.equal(done.visibility, 'private');
  assert.ok(done.stemCount >= 1, `stemCount ${done.stemCount}`);
  assert.equal(done.totalPlays, 0);
  assert.ok(Math.abs(done.duration - generatedStem.duration) < 0.5, `duration ${done.duration} vs stem ${generatedStem.duration}`);
  assert.equal(done.createdAt.getTime(), studioProject.createdAt.getTime(), 'same createdAt as at creation');
  const draft = r.projects.find((p) => p.projectId === draftProject.projectId);
  assert.equal(draft.status, 'draft');
  assert.equal(draft.duration, null);
  assert.equal(draft.stemCount, 0);
  assert.equal(draft.totalPlays, 0);

  const drafts = await studio.r3al.studio.getProjects.query({ userId: studioUser, status: 'draft', limit: 20, offset: 0 });
  assert.deepEqual(drafts.projects.map((p) => p.projectId), [draftProject.projectId]);
  assert.equal(drafts.total, 1);
  const completed = await studio.r3al.studio.getProjects.query({ userId: studioUser, status: 'completed' });
  assert.deepEqual(completed.projects.map((p) => p.projectId), [studioProject.projectId]);
  assert.equal(completed.total, 1);
  const published = await studio.r3al.studio.getProjects.query({ userId: studioUser, status: 'published' });
  assert.deepEqual(published.projects, []);
  assert.equal(published.total, 0);

  const page1 = await studio.r3al.studio.getProjects.query({ userId: studioUser, limit: 1, offset: 0 });
  const page2 = await studio.r3al.studio.getProjects.query({ userId: studioUser, limit: 1, offset: 1 });
  assert.equal(page1.projects.length, 1);
  assert.equal(page2.projects.length, 1);
  assert.equal(page1.total, 2);
  assert.equal(page2.total, 2);
  assert.notEqual(page1.projects[0].projectId, page2.projects[0].projectId);
  const defaults = await studio.r3al.studio.getProjects.query({ userId: studioUser, status: undefined, limit: undefined, offset: undefined });
  assert.equal(defaults.projects.length, 2, 'status/limit/offset undefined take their defaults');
});

await check('r3al.studio.getProjects: bad input (limit 201, limit 0, unknown status) -> BAD_REQUEST 400', async () => {
  needStudioUser();
  const err = await expectTrpcError(
    studio.r3al.studio.getProjects.query({ userId: studioUser, limit: 201, offset: 0 }),
    'BAD_REQUEST',
    400,
    'r3al.studio.getProjects',
  );
  assert.match(err.message, /limit/);
  assert.equal(requests.at(-1).method, 'GET');
  await expectTrpcError(studio.r3al.studio.getProjects.query({ userId: studioUser, limit: 0, offset: 0 }), 'BAD_REQUEST', 400);
  await expectTrpcError(studio.r3al.studio.getProjects.query({ userId: studioUser, status: 'lost' }), 'BAD_REQUEST', 400);
});

await check('r3al.studio.shareMusic: all six platforms -> shares with share links; the project is published', async () => {
  needStudioUser();
  assert.ok(generatedStem, 'the project was generated');
  const platforms = ['facebook', 'instagram', 'twitter', 'soundcloud', 'tiktok', 'youtube'];
  const r = await studio.r3al.studio.shareMusic.mutate({
    projectId: studioProject.projectId,
    userId: studioUser,
    platforms,
    caption: 'Night Drive & chill',
  });
  assert.equal(requests.at(-1).method, 'POST');
  assert.equal(r.success, true);
  assert.equal(typeof r.message, 'string');
  assert.ok(r.message.length > 0);
  assert.deepEqual(r.shares.map((s) => s.platform), platforms);
  for (const s of r.shares) {
    assert.equal(s.shareCount, 1, `${s.platform} shared once`);
    assert.ok('externalUrl' in s, `${s.platform} has externalUrl`);
  }
  const by = Object.fromEntries(r.shares.map((s) => [s.platform, s]));
  assert.equal(by.instagram.externalUrl, null, 'instagram has no web share link');

  const fb = by.facebook.externalUrl;
  const tw = by.twitter.externalUrl;
  assert.match(fb, /^https:\/\/www\.facebook\.com\/sharer\/sharer\.php\?/);
  assert.match(tw, /^https:\/\/(twitter|x)\.com\/intent\/tweet\?/);
  const rawParam = (href, name) => href.split('?')[1].split('&').find((kv) => kv.startsWith(`${name}=`))?.slice(name.length + 1);
  const fbU = rawParam(fb, 'u');
  const twU = rawParam(tw, 'url');
  assert.ok(fbU && twU, `u= and url= params: ${fb} ${tw}`);
  assert.ok(/%3A%2F%2F/i.test(fbU) && /%3A%2F%2F/i.test(twU), 'the page URL is percent-encoded');
  sharePage = decodeURIComponent(fbU);
  assert.equal(decodeURIComponent(twU), sharePage, 'both links carry the same page');
  assert.match(sharePage, /^https?:\/\/[^/]+\/s\/[A-Za-z0-9_-]+$/, `share page ${sharePage}`);
  assert.ok(!fb.includes(sharePage) && !tw.includes(sharePage), 'not embedded raw');
  if ('shareUrl' in r) assert.equal(r.shareUrl, sharePage);
  assert.equal(decodeURIComponent(rawParam(tw, 'text')), 'Night Drive & chill', 'the caption is the tweet text');

  const published = await studio.r3al.studio.getProjects.query({ userId: studioUser, status: 'published' });
  assert.deepEqual(published.projects.map((p) => p.projectId), [studioProject.projectId]);
  assert.equal(published.projects[0].status, 'published');
  assert.equal(published.projects[0].visibility, 'public');
  const completed = await studio.r3al.studio.getProjects.query({ userId: studioUser, status: 'completed' });
  assert.equal(completed.total, 0);
});

await check('the shared page plays without a token; its audio counts a play; sharing again counts 2', async () => {
  needStudioUser();
  assert.ok(sharePage, 'the project was shared');
  const page = await fetchPlain(sharePage);
  assert.equal(page.status, 200, `GET ${sharePage}`);
  assert.match(page.type, /^text\/html/);
  assert.ok(page.bytes.toString('utf8').includes('Night Drive'), 'the page names the track');
  const audio = await fetchPlain(`${sharePage}/audio`);
  assert.equal(audio.status, 200);
  assert.match(audio.type, /^audio\/mpeg/);
  assert.ok(looksLikeMp3(audio.bytes));
  const after = await studio.r3al.studio.getProjects.query({ userId: studioUser, status: 'published' });
  assert.equal(after.projects[0].totalPlays, 1);

  const again = await studio.r3al.studio.shareMusic.mutate({ projectId: studioProject.projectId, userId: studioUser, platforms: ['twitter'], caption: undefined });
  assert.equal(again.shares.length, 1);
  assert.equal(again.shares[0].shareCount, 2);
  assert.equal(decodeURIComponent(again.shares[0].externalUrl.split('url=')[1].split('&')[0]), sharePage, 'the same page');
});

await check('r3al.studio.shareMusic: bad input (unknown platform, none, 501-char caption) -> BAD_REQUEST 400', async () => {
  needStudioUser();
  assert.ok(studioProject, 'a project was created');
  const base = { projectId: studioProject.projectId, userId: studioUser, platforms: ['facebook'] };
  await expectTrpcError(studio.r3al.studio.shareMusic.mutate({ ...base, platforms: ['myspace'] }), 'BAD_REQUEST', 400, 'r3al.studio.shareMusic');
  await expectTrpcError(studio.r3al.studio.shareMusic.mutate({ ...base, platforms: [] }), 'BAD_REQUEST', 400);
  await expectTrpcError(studio.r3al.studio.shareMusic.mutate({ ...base, caption: 'x'.repeat(501) }), 'BAD_REQUEST', 400);
});

await check('r3al.studio.createProject: premium owns at most 5 projects; the 6th -> FORBIDDEN 403', async () => {
  needStudioUser();
  const before = await studio.r3al.studio.getProjects.query({ userId: studioUser });
  assert.equal(before.total, 2);
  for (const n of [3, 4, 5]) {
    const r = await studio.r3al.studio.createProject.mutate({ userId: studioUser, title: `Idea ${n}` });
    assert.equal(r.project.status, 'draft');
  }
  const err = await expectTrpcError(
    studio.r3al.studio.createProject.mutate({ userId: studioUser, title: 'Idea 6' }),
    'FORBIDDEN',
    403,
    'r3al.studio.createProject',
  );
  assert.equal(err.shape?.code, -32003);
  const after = await studio.r3al.studio.getProjects.query({ userId: studioUser });
  assert.equal(after.total, 5);
  assert.equal(after.projects.length, 5);
});

await check('r3al.studio: moved back to free, the user keeps its projects but generateMusic and createProject -> FORBIDDEN 403', async () => {
  needStudioUser();
  assert.ok(draftProject, 'a draft exists');
  const down = await admin.r3al.subscription.upgradeTier.mutate({ userId: studioUser, targetTier: 'free', billingPeriod: 'monthly' });
  assert.equal(down.success, true);
  const err = await expectTrpcError(
    studio.r3al.studio.generateMusic.mutate({ projectId: draftProject.projectId, userId: studioUser, prompt: 'one more', duration: 10, style: 'ambient' }),
    'FORBIDDEN',
    403,
    'r3al.studio.generateMusic',
  );
  assert.equal(err.shape?.code, -32003);
  assert.match(err.message, /upgrad/i);
  await expectTrpcError(studio.r3al.studio.createProject.mutate({ userId: studioUser, title: 'Again' }), 'FORBIDDEN', 403);
  const list = await studio.r3al.studio.getProjects.query({ userId: studioUser });
  assert.equal(list.total, 5, 'existing projects are kept');
  const draft = list.projects.find((p) => p.projectId === draftProject.projectId);
  assert.equal(draft.status, 'draft', 'the refused generation left the draft alone');
  assert.equal(draft.stemCount, 0);
});

// ---- Writers Guild (r3al.writersGuild.*) ----------------------------------------------------
//
// `writerUser` (the 6th argument, or a freshly registered account) starts on the free tier and is
// not a guild member. It is refused, joins the guild over REST (tRPC has no register procedure),
// is upgraded to premium by the admin, writes, and is finally moved back to free.

const writerToken = writerArg ?? (await registerFreshUser('writer'));
const writerUser = writerToken ? tokenUser(writerToken) : undefined;
const writer = writerToken ? createTRPCClient({ links: [httpLink(linkOptions(writerToken))] }) : undefined;
const needWriter = () => assert.ok(writer, 'a writer user token (the 6th argument) or a registered account is needed');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PROJECT_KEYS = ['projectId', 'userId', 'title', 'genre', 'description', 'contentType', 'matureContent', 'wordCount', 'status', 'createdAt', 'updatedAt'];

let novel; // premium: the full-field project (not mature)
let poems; // premium: optional fields undefined, matureContent: true

function assertDate(value, name) {
  assert.ok(value instanceof Date, `${name} is a Date, got ${typeof value}: ${value}`);
  assert.ok(!Number.isNaN(value.getTime()), `${name} is a valid date`);
  assert.ok(Math.abs(Date.now() - value.getTime()) < 5 * 60 * 1000, `${name} is about now: ${value.toISOString()}`);
}

function assertWritingProject(p, name) {
  for (const key of PROJECT_KEYS) assert.ok(key in p, `${name} has ${key}: ${JSON.stringify(p)}`);
  assert.match(p.projectId, UUID);
  assert.equal(p.userId, writerUser);
  assert.equal(typeof p.wordCount, 'number');
  assert.equal(typeof p.matureContent, 'boolean');
  assertDate(p.createdAt, `${name}.createdAt`);
  assertDate(p.updatedAt, `${name}.updatedAt`);
}

await check('r3al.writersGuild.createProject: a free user -> FORBIDDEN 403; nothing created', async () => {
  needWriter();
  const err = await expectTrpcError(
    writer.r3al.writersGuild.createProject.mutate({ userId: writerUser, title: 'Free draft', contentType: 'novel' }),
    'FORBIDDEN',
    403,
    'r3al.writersGuild.createProject',
  );
  assert.equal(err.shape?.code, -32003);
  const list = await writer.r3al.writersGuild.getProjects.query({ userId: writerUser });
  assert.equal(list.success, true);
  assert.deepEqual(list.projects, []);
  assert.equal(list.total, 0);
});

await check('r3al.writersGuild.getMember: a free user, not a member -> FORBIDDEN 403 naming the upgrade; nobody is enrolled', async () => {
  needWriter();
  const err = await expectTrpcError(writer.r3al.writersGuild.getMember.query({ userId: writerUser }), 'FORBIDDEN', 403, 'r3al.writersGuild.getMember');
  assert.match(err.message, /upgrade to premium/);
});

await check('r3al.writersGuild.*: acting for another user -> FORBIDDEN 403; no token -> UNAUTHORIZED 401', async () => {
  needWriter();
  await expectTrpcError(writer.r3al.writersGuild.getProjects.query({ userId: user }), 'FORBIDDEN', 403, 'r3al.writersGuild.getProjects');
  await expectTrpcError(writer.r3al.writersGuild.getMember.query({ userId: user }), 'FORBIDDEN', 403);
  await expectTrpcError(
    writer.r3al.writersGuild.createProject.mutate({ userId: user, title: 'Not mine', contentType: 'novel' }),
    'FORBIDDEN',
    403,
  );
  await expectTrpcError(anonymous.r3al.writersGuild.getProjects.query({ userId: writerUser }), 'UNAUTHORIZED', 401);
  await expectTrpcError(anonymous.r3al.writersGuild.getMember.query({ userId: writerUser }), 'UNAUTHORIZED', 401);
});

await check('r3al.subscription.upgradeTier: the admin moves the writer user to premium (monthly)', async () => {
  needWriter();
  const up = await admin.r3al.subscription.upgradeTier.mutate({ userId: writerUser, targetTier: 'premium', billingPeriod: 'monthly' });
  assert.equal(up.success, true);
  const tier = await writer.r3al.subscription.getUserTier.query({ userId: writerUser });
  assert.equal(tier.data.tier.tierName, 'premium');
});

await check('REST POST /api/writers/member/register (premium: the guild is included), then r3al.writersGuild.getMember has Date memberSince/createdAt', async () => {
  needWriter();
  const res = await fetch(`${base.replace(/\/+$/, '')}/api/writers/member/register`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${writerToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ userId: writerUser, penName: 'Quill Tester', bio: 'Writes tests.', specialties: ['fantasy', 'poetry'] }),
  });
  const text = await res.text();
  assert.ok(res.status === 201 || res.status === 200, `register: ${res.status} ${text}`);
  const r = await writer.r3al.writersGuild.getMember.query({ userId: writerUser });
  assert.equal(r.success, true);
  const m = r.member;
  for (const key of ['memberId', 'userId', 'penName', 'bio', 'specialties', 'totalWordsWritten', 'totalProjects', 'memberSince', 'tier', 'createdAt']) {
    assert.ok(key in m, `member has ${key}: ${JSON.stringify(m)}`);
  }
  assert.equal(typeof m.memberId, 'string');
  assert.equal(m.userId, writerUser);
  assert.equal(m.penName, 'Quill Tester');
  assert.equal(m.bio, 'Writes tests.');
  assert.deepEqual([...m.specialties].sort(), ['fantasy', 'poetry']);
  assert.equal(m.totalWordsWritten, 0);
  assert.equal(m.totalProjects, 0);
  assert.equal(typeof m.tier, 'string');
  assertDate(m.memberSince, 'memberSince');
  assertDate(m.createdAt, 'createdAt');
});

await check('r3al.writersGuild.createProject: premium user, all fields -> an active project with Date createdAt/updatedAt', async () => {
  needWriter();
  const r = await writer.r3al.writersGuild.createProject.mutate({
    userId: writerUser,
    title: 'The Long Test',
    genre: 'fantasy',
    description: 'A novel about assertions.',
    contentType: 'novel',
    matureContent: false,
  });
  assert.equal(r.success, true);
  assert.match(requests.at(-1).url, /\/api\/trpc\/r3al\.writersGuild\.createProject$/);
  const p = r.project;
  assertWritingProject(p, 'project');
  assert.equal(p.title, 'The Long Test');
  assert.equal(p.genre, 'fantasy');
  assert.equal(p.description, 'A novel about assertions.');
  assert.equal(p.contentType, 'novel');
  assert.equal(p.matureContent, false);
  assert.equal(p.wordCount, 0);
  assert.equal(p.status, 'active');
  novel = p;
});

await check('r3al.writersGuild.createProject: optional fields undefined; matureContent defaults to false', async () => {
  needWriter();
  const plain = await writer.r3al.writersGuild.createProject.mutate({ userId: writerUser, title: 'Untitled poems', genre: undefined, description: undefined, contentType: 'poetry' });
  assertWritingProject(plain.project, 'project');
  assert.equal(plain.project.matureContent, false, 'matureContent defaults to false');
  assert.equal(plain.project.genre ?? null, null);
  assert.equal(plain.project.description ?? null, null);
  assert.equal(plain.project.contentType, 'poetry');
  const mature = await writer.r3al.writersGuild.createProject.mutate({ userId: writerUser, title: 'Dark verses', contentType: 'short_story', matureContent: true });
  assert.equal(mature.project.matureContent, true);
  assert.equal(mature.project.contentType, 'short_story');
  poems = mature.project;
  for (const contentType of ['screenplay', 'other']) {
    const r = await writer.r3al.writersGuild.createProject.mutate({ userId: writerUser, title: `A ${contentType}`, contentType });
    assert.equal(r.project.contentType, contentType);
  }
});

await check('r3al.writersGuild.createProject: bad contentType, missing contentType or empty title -> BAD_REQUEST 400', async () => {
  needWriter();
  const before = await writer.r3al.writersGuild.getProjects.query({ userId: writerUser });
  await expectTrpcError(
    writer.r3al.writersGuild.createProject.mutate({ userId: writerUser, title: 'Bad', contentType: 'limerick' }),
    'BAD_REQUEST',
    400,
    'r3al.writersGuild.createProject',
  );
  await expectTrpcError(writer.r3al.writersGuild.createProject.mutate({ userId: writerUser, title: 'Bad' }), 'BAD_REQUEST', 400);
  await expectTrpcError(writer.r3al.writersGuild.createProject.mutate({ userId: writerUser, title: '   ', contentType: 'novel' }), 'BAD_REQUEST', 400);
  const after = await writer.r3al.writersGuild.getProjects.query({ userId: writerUser });
  assert.equal(after.total, before.total, 'nothing created');
});

await check('r3al.writersGuild.getProjects: all five with Date fields; status filter; bad status -> BAD_REQUEST', async () => {
  needWriter();
  const r = await writer.r3al.writersGuild.getProjects.query({ userId: writerUser });
  assert.equal(r.success, true);
  assert.equal(requests.at(-1).method, 'GET');
  assert.equal(r.total, 5);
  assert.equal(r.projects.length, 5);
  for (const [i, p] of r.projects.entries()) assertWritingProject(p, `projects[${i}]`);
  const mine = r.projects.find((p) => p.projectId === novel?.projectId);
  assert.ok(mine, 'the novel is listed');
  assert.equal(mine.title, 'The Long Test');
  const active = await writer.r3al.writersGuild.getProjects.query({ userId: writerUser, status: 'active' });
  assert.equal(active.total, 5);
  const archived = await writer.r3al.writersGuild.getProjects.query({ userId: writerUser, status: 'archived' });
  assert.equal(archived.total, 0);
  assert.deepEqual(archived.projects, []);
  const undef = await writer.r3al.writersGuild.getProjects.query({ userId: writerUser, status: undefined });
  assert.equal(undef.total, 5);
  await expectTrpcError(writer.r3al.writersGuild.getProjects.query({ userId: writerUser, status: 'lost' }), 'BAD_REQUEST', 400, 'r3al.writersGuild.getProjects');
});

await check('r3al.writersGuild.startSession: chapter 3 -> a session with Date startedAt and premium capabilities', async () => {
  needWriter();
  assert.ok(novel, 'a project was created');
  const r = await writer.r3al.writersGuild.startSession.mutate({ userId: writerUser, projectId: novel.projectId, chapterNumber: 3 });
  assert.equal(r.success, true);
  const s = r.session;
  assert.match(s.sessionId, UUID);
  assert.equal(s.projectId, novel.projectId);
  assert.equal(s.userId, writerUser);
  assert.equal(s.chapterNumber, 3);
  assertDate(s.startedAt, 'session.startedAt');
  const c = r.capabilities;
  assert.equal(c.tier, 'premium');
  assert.equal(c.unrestrictedAI, false, 'premium is not unrestricted');
  assert.equal(c.unlimitedChat, false, 'premium chat has a limit');
  assert.equal(c.contentRating, 'general', 'a project without matureContent is general');
});

await check('r3al.writersGuild.startSession: chapterNumber undefined -> null; a mature project -> mature rating; a new session id each time', async () => {
  needWriter();
  assert.ok(poems, 'a mature project was created');
  const a = await writer.r3al.writersGuild.startSession.mutate({ userId: writerUser, projectId: poems.projectId });
  assert.equal(a.session.chapterNumber ?? null, null);
  assert.equal(a.capabilities.contentRating, 'mature');
  const b = await writer.r3al.writersGuild.startSession.mutate({ userId: writerUser, projectId: poems.projectId, chapterNumber: undefined });
  assert.notEqual(b.session.sessionId, a.session.sessionId);
});

await check("r3al.writersGuild.startSession: an unknown or another user's project -> NOT_FOUND 404; bad chapter -> BAD_REQUEST", async () => {
  needWriter();
  await expectTrpcError(
    writer.r3al.writersGuild.startSession.mutate({ userId: writerUser, projectId: '00000000-0000-7000-8000-000000000000' }),
    'NOT_FOUND',
    404,
    'r3al.writersGuild.startSession',
  );
  await expectTrpcError(
    writer.r3al.writersGuild.startSession.mutate({ userId: writerUser, projectId: novel.projectId, chapterNumber: -1 }),
    'BAD_REQUEST',
    400,
  );
  // The admin may act for anyone, but the project must be the named user's.
  await expectTrpcError(
    admin.r3al.writersGuild.startSession.mutate({ userId: tokenUser(adminToken), projectId: novel.projectId }),
    'NOT_FOUND',
    404,
  );
});

await check('r3al.writersGuild.getAssistance: premium user gets text back with the rating it asked for', async () => {
  needWriter();
  const r = await writer.r3al.writersGuild.getAssistance.mutate({
    userId: writerUser,
    projectId: novel.projectId,
    context: 'The dragon looked at the test suite. It was green, and the dragon was pleased.',
    request: 'How can I make this opening stronger?',
    contentRating: 'general',
  });
  assert.equal(r.success, true);
  assert.equal(typeof r.assistance, 'string');
  assert.ok(r.assistance.trim().length > 0, 'assistance text is not empty');
  assert.equal(r.contentRating, 'general');
});

await check('r3al.writersGuild.getAssistance: contentRating undefined on a mature project -> mature (the default)', async () => {
  needWriter();
  const r = await writer.r3al.writersGuild.getAssistance.mutate({
    userId: writerUser,
    projectId: poems.projectId,
    context: 'Night fell like a verdict.',
    request: 'Suggest a next line.',
    contentRating: undefined,
  });
  assert.equal(typeof r.assistance, 'string');
  assert.equal(r.contentRating, 'mature');
});

await check('r3al.writersGuild.getAssistance: request over 5000 or context over 50000 chars -> BAD_REQUEST 400', async () => {
  needWriter();
  const base = { userId: writerUser, projectId: novel.projectId, context: 'ctx', contentRating: 'general' };
  const err = await expectTrpcError(
    writer.r3al.writersGuild.getAssistance.mutate({ ...base, request: 'r'.repeat(5001) }),
    'BAD_REQUEST',
    400,
    'r3al.writersGuild.getAssistance',
  );
  assert.equal(err.shape?.code, -32600);
  await expectTrpcError(writer.r3al.writersGuild.getAssistance.mutate({ ...base, request: 'ok', context: 'c'.repeat(50001) }), 'BAD_REQUEST', 400);
  await expectTrpcError(writer.r3al.writersGuild.getAssistance.mutate({ ...base, request: 'ok', contentRating: 'spicy' }), 'BAD_REQUEST', 400);
  // exactly at the limits is fine
  const ok = await writer.r3al.writersGuild.getAssistance.mutate({ ...base, request: 'r'.repeat(5000), context: 'c'.repeat(50000) });
  assert.equal(typeof ok.assistance, 'string');
});

await check("r3al.writersGuild.upgradeMember: premium subscriber -> 'unlimited' FORBIDDEN 403, unknown tier BAD_REQUEST 400", async () => {
  needWriter();
  const err = await expectTrpcError(
    writer.r3al.writersGuild.upgradeMember.mutate({ userId: writerUser, tier: 'unlimited' }),
    'FORBIDDEN',
    403,
    'r3al.writersGuild.upgradeMember',
  );
  assert.equal(err.shape?.code, -32003);
  await expectTrpcError(writer.r3al.writersGuild.upgradeMember.mutate({ userId: writerUser, tier: 'grandmaster' }), 'BAD_REQUEST', 400, 'r3al.writersGuild.upgradeMember');
  await expectTrpcError(writer.r3al.writersGuild.upgradeMember.mutate({ userId: user, tier: 'premium' }), 'FORBIDDEN', 403);
});

await check("r3al.writersGuild.upgradeMember: premium subscriber -> 'premium' (wordsmith) with the plan's flags and a Date joinedAt", async () => {
  needWriter();
  const r = await writer.r3al.writersGuild.upgradeMember.mutate({ userId: writerUser, tier: 'premium' });
  assert.equal(r.success, true);
  const m = r.member;
  assert.equal(typeof m.memberId, 'string');
  assert.equal(m.userId, writerUser);
  assert.equal(m.tier, 'premium');
  assert.equal(m.unlimitedChat, false);
  assert.equal(m.unlimitedImages, false);
  assert.equal(m.unrestrictedAI, false);
  assertDate(m.joinedAt, 'joinedAt');
  const again = await writer.r3al.writersGuild.getMember.query({ userId: writerUser });
  assert.equal(again.member.memberId, m.memberId);
  assert.ok(['premium', 'wordsmith'].includes(again.member.tier), `getMember tier after the upgrade: ${again.member.tier}`);
  assert.equal(again.member.totalProjects, 5);
});

await check('r3al.writersGuild: moved back to free, getAssistance and createProject -> FORBIDDEN 403; projects kept', async () => {
  needWriter();
  const down = await admin.r3al.subscription.upgradeTier.mutate({ userId: writerUser, targetTier: 'free', billingPeriod: 'monthly' });
  assert.equal(down.success, true);
  const err = await expectTrpcError(
    writer.r3al.writersGuild.getAssistance.mutate({ userId: writerUser, projectId: novel.projectId, context: 'ctx', request: 'help', contentRating: 'general' }),
    'FORBIDDEN',
    403,
    'r3al.writersGuild.getAssistance',
  );
  assert.equal(err.shape?.code, -32003);
  await expectTrpcError(writer.r3al.writersGuild.createProject.mutate({ userId: writerUser, title: 'Again', contentType: 'novel' }), 'FORBIDDEN', 403);
  const list = await writer.r3al.writersGuild.getProjects.query({ userId: writerUser });
  assert.equal(list.total, 5, 'existing projects are kept');
  const s = await writer.r3al.writersGuild.startSession.mutate({ userId: writerUser, projectId: novel.projectId });
  assert.equal(s.capabilities.tier, 'free');
});

// ---- r3al.premium images ------------------------------------------------------------------

if (writerToken) {
  // The writer user is back on the free tier here: one image a week.
  const writerUserId = tokenUser(writerToken);
  let firstImage;
  await check('r3al.premium.generateImage: a free user gets one image (Date createdAt, signed imageUrl, usage 1 of 1)', async () => {
    const r = await writer.r3al.premium.generateImage.mutate({ userId: writerUserId, prompt: 'sunset over the ocean', size: '1792x1024', style: 'natural' });
    assert.equal(r.success, true);
    assert.equal(r.image.userId, writerUserId);
    assert.equal(r.image.size, '1792x1024');
    assert.equal(r.image.style, 'natural');
    assert.equal(r.image.status, 'completed');
    assertDate(r.image.createdAt, 'createdAt');
    assert.deepEqual([r.usage.used, r.usage.limit], [1, 1]);
    const png = await fetch(r.image.imageUrl);
    assert.equal(png.status, 200);
    assert.equal(png.headers.get('content-type'), 'image/png');
    firstImage = r.image.imageId;
  });

  await check('r3al.premium.generateImage: the second free image of the week -> FORBIDDEN 403 with an upgrade message', async () => {
    const err = await expectTrpcError(
      writer.r3al.premium.generateImage.mutate({ userId: writerUserId, prompt: 'a forest' }),
      'FORBIDDEN',
      403,
      'r3al.premium.generateImage',
    );
    assert.match(err.message, /upgrade/);
  });

  await check("r3al.premium.generateImage: size '512x512' -> BAD_REQUEST 400", async () => {
    await expectTrpcError(writer.r3al.premium.generateImage.mutate({ userId: writerUserId, prompt: 'x', size: '512x512' }), 'BAD_REQUEST', 400);
  });

  await check('r3al.premium.getImageHistory: the image, newest first, with total and hasMore', async () => {
    const r = await writer.r3al.premium.getImageHistory.query({ userId: writerUserId });
    assert.equal(r.total, 1);
    assert.equal(r.hasMore, false);
    assert.equal(r.images[0].imageId, firstImage);
    assert.equal(r.images[0].prompt, 'sunset over the ocean');
    assertDate(r.images[0].createdAt, 'createdAt');
    await expectTrpcError(client.r3al.premium.getImageHistory.query({ userId: writerUserId }), 'FORBIDDEN', 403);
  });
}

// ---- r3al.tactical ----------------------------------------------------------------------

const officerToken = officerArg;
const partnerToken = partnerArg;
if (officerToken && partnerToken) {
  const officerUser = tokenUser(officerToken);
  const partnerUser = tokenUser(partnerToken);
  const officer = createTRPCClient({ links: [httpLink(linkOptions(officerToken))] });
  const partner = createTRPCClient({ links: [httpLink(linkOptions(partnerToken))] });
  const verify = async (userId, clearanceLevel) => {
    const res = await fetch(`${base.replace(/\/+$/, '')}/api/tactical/verify/${userId}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ status: 'verified', clearanceLevel }),
    });
    assert.equal(res.status, 200, await res.text());
  };

  await check('r3al.tactical.register: a free user -> FORBIDDEN 403 (Tactical HQ needs the tactical tier)', async () => {
    await expectTrpcError(officer.r3al.tactical.register.mutate({ userId: officerUser, serviceBranch: 'police' }), 'FORBIDDEN', 403, 'r3al.tactical.register');
  });

  await check('r3al.tactical.register: on the tactical tier -> pending tacticalUser with a Date createdAt', async () => {
    for (const u of [officerUser, partnerUser]) {
      const up = await admin.r3al.subscription.upgradeTier.mutate({ userId: u, targetTier: 'tactical', billingPeriod: 'monthly' });
      assert.equal(up.success, true);
    }
    const doc = `data:text/plain;base64,${Buffer.from('badge scan').toString('base64')}`;
    const r = await officer.r3al.tactical.register.mutate({
      userId: officerUser, serviceBranch: 'police', rank: 'Sergeant', badgeNumber: 'B-1', department: 'Metro PD', verificationDocuments: [doc],
    });
    assert.equal(r.success, true);
    const t = r.tacticalUser;
    assert.equal(t.userId, officerUser);
    assert.equal(t.verifiedStatus, 'pending');
    assert.equal(t.clearanceLevel, 'public');
    assert.equal(t.serviceBranch, 'police');
    assert.equal(typeof t.tacticalUserId, 'string');
    assertDate(t.createdAt, 'createdAt');
    assert.equal(typeof r.message, 'string');
    await partner.r3al.tactical.register.mutate({ userId: partnerUser, serviceBranch: 'police', department: 'Metro PD' });
  });

  await check('r3al.tactical: unverified -> FORBIDDEN 403; unknown serviceBranch -> BAD_REQUEST 400', async () => {
    await expectTrpcError(officer.r3al.tactical.getDashboard.query({ userId: officerUser }), 'FORBIDDEN', 403, 'r3al.tactical.getDashboard');
    await expectTrpcError(partner.r3al.tactical.register.mutate({ userId: partnerUser, serviceBranch: 'pirates' }), 'BAD_REQUEST', 400);
  });

  let secureId;
  await check('r3al.tactical.sendSecureComm: sealed, answered in the app shape with a Date createdAt', async () => {
    await verify(officerUser, 'secret');
    await verify(partnerUser, 'confidential');
    const r = await officer.r3al.tactical.sendSecureComm.mutate({
      senderId: officerUser, recipientId: partnerUser, commType: 'briefing', priority: 'immediate', content: 'Rendezvous at gate 4',
    });
    assert.equal(r.success, true);
    assert.equal(r.comm.senderId, officerUser);
    assert.equal(r.comm.recipientId, partnerUser);
    assert.equal(r.comm.commType, 'briefing');
    assert.equal(r.comm.priority, 'urgent');
    assert.equal(r.comm.encrypted, true);
    assertDate(r.comm.createdAt, 'createdAt');
    secureId = r.comm.commId;
  });

  await check('r3al.tactical.sendComm: an alert to the partner, with acknowledgedBy []', async () => {
    const r = await officer.r3al.tactical.sendComm.mutate({
      fromUserId: officerUser, toUserIds: [partnerUser], messageType: 'alert', messageContent: 'Smoke reported on 5th', priority: 'high',
    });
    assert.equal(r.comm.messageType, 'alert');
    assert.equal(r.comm.messageContent, 'Smoke reported on 5th');
    assert.deepEqual(r.comm.toUserIds, [partnerUser]);
    assert.deepEqual(r.comm.acknowledgedBy, []);
    assert.equal(r.comm.encrypted, false);
    assertDate(r.comm.createdAt, 'createdAt');
  });

  await check('r3al.tactical.getComms: the recipient reads both, decrypted, newest first; filters by commType', async () => {
    const r = await partner.r3al.tactical.getComms.query({ userId: partnerUser });
    assert.equal(r.total, 2);
    assert.equal(r.comms[1].commId, secureId);
    assert.equal(r.comms[1].content, 'Rendezvous at gate 4');
    assert.equal(r.comms[1].encrypted, true);
    assert.equal(r.comms[1].senderRole, 'Sergeant');
    assert.equal(r.comms[1].senderOrg, 'Metro PD');
    assert.equal(r.comms[1].readAt, null);
    assertDate(r.comms[1].createdAt, 'createdAt');
    const alerts = await partner.r3al.tactical.getComms.query({ userId: partnerUser, commType: 'alert', limit: 10 });
    assert.equal(alerts.total, 1);
    assert.equal(alerts.comms[0].commType, 'alert');
  });

  await check("r3al.tactical.getComms: another user's comms -> FORBIDDEN 403; sendSecureComm with commType 'gossip' -> BAD_REQUEST 400", async () => {
    await expectTrpcError(partner.r3al.tactical.getComms.query({ userId: officerUser }), 'FORBIDDEN', 403);
    await expectTrpcError(
      officer.r3al.tactical.sendSecureComm.mutate({ senderId: officerUser, recipientId: partnerUser, commType: 'gossip', content: 'x' }),
      'BAD_REQUEST',
      400,
    );
  });

  await check('r3al.tactical.getDashboard: real counts and insights', async () => {
    const r = await partner.r3al.tactical.getDashboard.query({ userId: partnerUser });
    const d = r.dashboard;
    assert.equal(d.user.userId, partnerUser);
    assert.equal(d.user.verifiedStatus, 'verified');
    assert.equal(d.recentComms, 2);
    assert.deepEqual(d.activeIncidents, []);
    assert.equal(d.team, null);
    assert.ok(d.aiInsights.length >= 1);
    assert.ok(d.aiInsights.some((s) => s.includes('unread')), JSON.stringify(d.aiInsights));
  });

  await check('r3al.tactical.getOptimaSRAnalysis: a stress check-in scored by the documented formula', async () => {
    const r = await partner.r3al.tactical.getOptimaSRAnalysis.mutate({
      userId: partnerUser, sessionType: 'post_incident', stressIndicators: { heartRate: 90, sleepQuality: 5, moodRating: 5, recentIncidents: ['pursuit'] },
    });
    // heart 0.5, sleep 0.5, mood 0.5, incidents 0.2: (0.125 + 0.125 + 0.15 + 0.04) / 1 + 0.05 = 0.49
    assert.equal(r.session.stressLevel, 0.49);
    assert.equal(r.session.sessionType, 'post_incident');
    assert.equal(typeof r.analysis, 'string');
    assert.ok(r.recommendations.length >= 1);
    assert.equal(typeof r.supportResources['988 Suicide & Crisis Lifeline'], 'string');
    await expectTrpcError(
      partner.r3al.tactical.getOptimaSRAnalysis.mutate({ userId: partnerUser, sessionType: 'nap', stressIndicators: { moodRating: 5 } }),
      'BAD_REQUEST',
      400,
    );
  });
}

// ---- the app's screens, call for call ---------------------------------------------------
// Each call as the R3AL app's current screens make it (inputs verbatim), with a bearer token as
// the one change to the app. The signed-in user comes from the app's own root `auth.register`.

if (demoArg && guestArg) {
  const appClient = (token) => createTRPCClient({ links: [httpLink(linkOptions(token))] });
  const email = `screens-${randomBytes(4).toString('hex')}@example.com`;
  const appPassword = `pw-${randomBytes(6).toString('hex')}`;
  let signedIn;
  let me;

  await check("root router: health, then auth.register and auth.login with {email, password} as the app's AuthContext", async () => {
    const health = await anonymous.health.query();
    assert.equal(health.status, 'healthy');
    const registered = await anonymous.auth.register.mutate({ email, password: appPassword, name: 'Screen Tester' });
    assert.equal(registered.success, true);
    assert.equal(registered.email, email);
    assert.equal(registered.name, 'Screen Tester');
    const login = await anonymous.auth.login.mutate({ email, password: appPassword });
    assert.equal(login.userId, registered.userId);
    assert.equal(typeof login.token, 'string');
    signedIn = login;
    me = appClient(login.token);
    await expectTrpcError(anonymous.auth.login.mutate({ email, password: 'wrong1' }), 'UNAUTHORIZED', 401, 'auth.login');
  });

  await check('writers-guild/index.tsx: getMember for a tier without the guild -> FORBIDDEN with the upgrade message', async () => {
    const err = await expectTrpcError(me.r3al.writersGuild.getMember.query({ userId: signedIn.userId || '' }), 'FORBIDDEN', 403, 'r3al.writersGuild.getMember');
    assert.match(err.message, /upgrade to premium/);
  });

  await check('writers-guild/index.tsx: getProjects, getMember (enrolled on the first visit), createProject, startSession', async () => {
    await admin.r3al.subscription.upgradeTier.mutate({ userId: signedIn.userId, targetTier: 'premium', billingPeriod: 'monthly' });
    const projects = await me.r3al.writersGuild.getProjects.query({ userId: signedIn.userId || '' });
    assert.deepEqual(projects.projects, []);
    const member = (await me.r3al.writersGuild.getMember.query({ userId: signedIn.userId || '' })).member;
    assert.equal(member.userId, signedIn.userId);
    assert.equal(member.penName, 'Screen Tester', 'the pen name comes from the account');
    assert.equal(member.tier, 'basic', "a novice, in the app's words");
    assert.equal(typeof member.memberId, 'string');
    const again = (await me.r3al.writersGuild.getMember.query({ userId: signedIn.userId || '' })).member;
    assert.equal(again.memberId, member.memberId, 'enrolled once');
    const created = await me.r3al.writersGuild.createProject.mutate({
      userId: signedIn.userId || '',
      title: 'The Long Night',
      genre: '',
      description: '',
      contentType: 'novel',
      matureContent: false,
    });
    assert.equal(created.project.title, 'The Long Night');
    const started = await me.r3al.writersGuild.startSession.mutate({ userId: signedIn.userId || '', projectId: created.project.projectId });
    assert.equal(typeof started.session.sessionId, 'string');
    assert.equal(started.session.projectId, created.project.projectId);
  });

  await check("studio.tsx (as 'demo_user'): getProjects, createProject, generateMusic", async () => {
    const demo = appClient(demoArg);
    await admin.r3al.subscription.upgradeTier.mutate({ userId: 'demo_user', targetTier: 'premium', billingPeriod: 'monthly' });
    const userId = 'demo_user';
    const newProject = { title: 'Night Drive', genre: 'electronic', bpm: 120, mood: 'energetic' };
    const listed = await demo.r3al.studio.getProjects.query({ userId, status: undefined, limit: 20, offset: 0 });
    assert.equal(listed.total, 0);
    const created = await demo.r3al.studio.createProject.mutate({ userId, ...newProject });
    const projectId = created.project.projectId;
    const generated = await demo.r3al.studio.generateMusic.mutate({
      projectId,
      userId,
      prompt: `Create a ${newProject.genre} track at ${newProject.bpm} BPM with a ${newProject.mood} mood`,
      duration: 30,
      style: newProject.genre,
    });
    assert.equal(typeof generated.stem.fileUrl, 'string');
    const after = await demo.r3al.studio.getProjects.query({ userId, status: undefined, limit: 20, offset: 0 });
    assert.equal(after.total, 1);
  });

  await check("optima-ai.tsx (as 'guest_user'): sendMessage with a new session_<ms> id on every message", async () => {
    const guest = appClient(guestArg);
    for (const message of ['Hello Optima', 'What can you do?']) {
      const response = await guest.r3al.aiChat.sendMessage.mutate({
        userId: 'guest_user',
        message,
        context: 'general',
        sessionId: `session_${Date.now()}`,
      });
      assert.equal(typeof response.data.response, 'string');
      assert.ok(response.data.response.length > 0);
      assert.match(response.data.sessionId, /^session_\d+$/);
    }
  });

  await check('tactical-hq.tsx: getDashboard, getOptimaSRAnalysis as a query; secure-comms.tsx: sendSecureComm', async () => {
    await admin.r3al.subscription.upgradeTier.mutate({ userId: signedIn.userId, targetTier: 'tactical', billingPeriod: 'monthly' });
    await me.r3al.tactical.register.mutate({ userId: signedIn.userId, serviceBranch: 'fire', department: 'Station 9' });
    const res = await fetch(`${base.replace(/\/+$/, '')}/api/tactical/verify/${signedIn.userId}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ status: 'verified', clearanceLevel: 'secret' }),
    });
    assert.equal(res.status, 200, await res.text());
    const dashboard = (await me.r3al.tactical.getDashboard.query({ userId: signedIn.userId || '' })).dashboard;
    assert.equal(dashboard.user.userId, signedIn.userId);
    const srAnalysis = (await me.r3al.tactical.getOptimaSRAnalysis.query({ userId: signedIn.userId || '', analysisType: 'situational' })).analysis;
    assert.equal(typeof srAnalysis.overallThreatLevel, 'string');
    assert.equal(typeof srAnalysis.activeSituations, 'number');
    assert.ok(Array.isArray(srAnalysis.recommendations) && srAnalysis.recommendations.length > 0);
    const recipientId = '';
    const sent = await me.r3al.tactical.sendSecureComm.mutate({
      senderId: signedIn.userId,
      recipientId: recipientId || undefined,
      commType: 'message',
      priority: 'normal',
      content: 'Engine 9 returning to quarters',
      encrypted: true,
    });
    assert.equal(sent.success, true);
    assert.equal(sent.comm.senderId, signedIn.userId);
  });
}

finish();
