// tRPC subscriptions through the real `@trpc/client` v11 `httpSubscriptionLink` with superjson
// and the `eventsource` package (Node 20 has no EventSource), as the app would route them with
// `splitLink`: comms under the caller's clearance, the token in `connectionParams` (what a
// browser's EventSource allows) or in an Authorization header, resuming with the last event id,
// a refusal that ends the subscription, and a chat reply streamed in pieces.
//
//   node live.mjs <base-url> <chief-token> <medic-token>
//
// The chief (top secret) and the medic (confidential) are verified members of one department.
// Comms are sent through REST as the chief. Prints one line per check, then `N passed, M failed`.

import assert from 'node:assert/strict';

import { createTRPCUntypedClient, httpSubscriptionLink } from '@trpc/client';
import { EventSource } from 'eventsource';
import superjson from 'superjson';

import { check, finish } from './check.mjs';

const [base, chiefToken, medicToken] = process.argv.slice(2);
if (!base || !chiefToken || !medicToken) {
  console.error('usage: node live.mjs <base-url> <chief-token> <medic-token>');
  process.exit(2);
}
const root = base.replace(/\/+$/, '');
const url = `${root}/api/trpc`;
const userOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')).sub;
const [chief, medic] = [userOf(chiefToken), userOf(medicToken)];

async function send(content, classification) {
  const res = await fetch(`${root}/api/tactical/comm/send`, {
    method: 'POST',
    headers: { authorization: `Bearer ${chiefToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ fromUserId: chief, content, classification }),
  });
  assert.equal(res.status, 201, await res.text());
}

/** A subscription whose events and errors queue up for `next`. */
function subscribe(client, path, input) {
  const items = [];
  const waiters = [];
  let error = null;
  let started = false;
  let completed = false;
  const wake = () => waiters.splice(0).forEach((w) => w());
  const sub = client.subscription(path, input, {
    onStarted: () => { started = true; wake(); },
    onData: (d) => { items.push(d); wake(); },
    onError: (e) => { error = e; wake(); },
    onComplete: () => { completed = true; wake(); },
  });
  const waitFor = async (ready, what, ms = 10_000) => {
    const until = Date.now() + ms;
    while (!ready()) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => { waiters.push(resolve); setTimeout(resolve, 100); });
    }
  };
  return {
    async started() { await waitFor(() => started || error, 'the subscription to start'); if (error) throw error; },
    async next() { await waitFor(() => items.length || error, 'an event'); if (error && !items.length) throw error; return items.shift(); },
    async quiet(ms) { await new Promise((r) => setTimeout(r, ms)); return items.length; },
    async error() { await waitFor(() => error, 'an error'); return error; },
    async completed() { await waitFor(() => completed || error, 'the end'); if (error) throw error; },
    close: () => sub.unsubscribe(),
  };
}

const byParams = createTRPCUntypedClient({
  links: [httpSubscriptionLink({ url, transformer: superjson, EventSource, connectionParams: async () => ({ token: medicToken }) })],
});

let resumeAfter;
await check('onComm with the token in connectionParams: only the comms the caller may see, opened', async () => {
  const sub = subscribe(byParams, 'r3al.tactical.onComm', { userId: medic });
  await sub.started();
  await send('roll call at 0600', 'public');
  await send('the informant is in room 4', 'secret');
  await send('sealed for the medic', 'confidential');
  const first = await sub.next();
  assert.ok(first.id, 'a tracked event has an id');
  assert.equal(first.data.messageContent ?? first.data.content, 'roll call at 0600');
  assert.equal(first.data.senderId, chief);
  assert.ok(first.data.createdAt instanceof Date, 'createdAt is a Date through superjson');
  const second = await sub.next();
  assert.equal(second.data.content, 'sealed for the medic', 'the secret comm was not sent; the sealed one opened');
  assert.equal(second.data.classification, 'confidential');
  assert.ok(Number(second.id) > Number(first.id));
  resumeAfter = second.id;
  sub.close();
});

await check('resuming with the last event id: exactly the missed comms, in order, then live ones', async () => {
  await send('missed one', 'public');
  await send('missed secret', 'secret');
  await send('missed two', 'public');
  const sub = subscribe(byParams, 'r3al.tactical.onComm', { userId: medic, lastEventId: resumeAfter });
  assert.equal((await sub.next()).data.content, 'missed one');
  assert.equal((await sub.next()).data.content, 'missed two');
  await send('live again', 'public');
  assert.equal((await sub.next()).data.content, 'live again');
  assert.equal(await sub.quiet(300), 0, 'each once');
  sub.close();
});

await check('onComm with an Authorization header (EventSource fetch option)', async () => {
  const byHeader = createTRPCUntypedClient({
    links: [
      httpSubscriptionLink({
        url,
        transformer: superjson,
        EventSource,
        eventSourceOptions: () => ({
          fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, authorization: `Bearer ${medicToken}` } }),
        }),
      }),
    ],
  });
  const sub = subscribe(byHeader, 'r3al.tactical.onComm', { userId: medic });
  await sub.started();
  await send('by header', 'public');
  assert.equal((await sub.next()).data.content, 'by header');
  sub.close();
});

await check("another user's comms: FORBIDDEN, and the subscription ends", async () => {
  const sub = subscribe(byParams, 'r3al.tactical.onComm', { userId: chief });
  const error = await sub.error();
  assert.equal(error.data?.code, 'FORBIDDEN', JSON.stringify(error.data));
  sub.close();
});

await check('onIncident: the department\'s incidents as reported', async () => {
  const sub = subscribe(byParams, 'r3al.tactical.onIncident', { userId: medic });
  await sub.started();
  const res = await fetch(`${root}/api/tactical/incident/report`, {
    method: 'POST',
    headers: { authorization: `Bearer ${chiefToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'pier fire', description: 'smoke at pier 9', severity: 'high' }),
  });
  assert.equal(res.status, 201);
  const event = await sub.next();
  assert.equal(event.data.title, 'pier fire');
  assert.equal(event.data.status, 'active');
  sub.close();
});

await check('aiChat.streamMessage: the reply in pieces, then done with the stored ids, then complete', async () => {
  const sub = subscribe(byParams, 'r3al.aiChat.streamMessage', { userId: medic, message: 'What tier am I on?', sessionId: `session_${Date.now()}` });
  const pieces = [];
  let done;
  while (!done) {
    const event = await sub.next();
    assert.ok(event.id, 'every event is tracked');
    if (event.data.done) done = event.data;
    else pieces.push(event.data.delta);
  }
  assert.ok(pieces.length > 3, `pieces: ${JSON.stringify(pieces)}`);
  assert.equal(pieces.join(''), done.response);
  assert.match(done.response, /unlimited tier/);
  assert.ok(done.messageId && done.userMessageId && done.sessionId.startsWith('session_'));
  await sub.completed();
  sub.close();
});

finish();
