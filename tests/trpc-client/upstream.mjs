// A stand-in for the R3AL app's own backend: a real @trpc/server v11 with the superjson
// transformer, mounted at /api/trpc on 127.0.0.1 and a free port. tests/trpc_upstream.rs
// starts it, points optima's `[trpc] upstream_url` at it and reads the first line it prints:
//
//   listening <port>
//
// It exits when its stdin closes (the test ended) or it is killed. `SLOW_MS` is how long
// `r3al.pulse.slow` takes (default 10 s: longer than the test's forwarding timeout).

import { setTimeout as sleep } from 'node:timers/promises';

import { TRPCError, initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import superjson from 'superjson';

const t = initTRPC.context().create({ transformer: superjson });

// Inputs pass as superjson decoded them (no schema library): the procedures below only echo.
const anything = (value) => value;

const appRouter = t.router({
  r3al: t.router({
    feed: t.router({
      // `pad` makes the answer as large as a test needs.
      getFeed: t.procedure.input(anything).query(({ input }) => ({
        success: true,
        posts: [{ id: 'post_1', text: 'first post', createdAt: new Date('2026-01-02T03:04:05.000Z') }],
        limit: input?.limit ?? null,
        padding: 'x'.repeat(input?.pad ?? 0),
      })),
      createPost: t.procedure.input(anything).mutation(({ input }) => ({
        success: true,
        id: 'post_2',
        text: input?.text ?? null,
        // superjson's meta came along: the Date sent is a Date here.
        scheduledIsDate: input?.scheduledAt instanceof Date,
      })),
    }),
    verification: t.router({
      submit: t.procedure.input(anything).mutation(({ input }) => {
        throw new TRPCError({ code: 'FORBIDDEN', message: `not verified: ${input?.userId}` });
      }),
    }),
    pulse: t.router({
      slow: t.procedure.query(async () => {
        await sleep(Number(process.env.SLOW_MS ?? 10_000));
        return { success: true };
      }),
    }),
    debug: t.router({
      // What arrived: the headers and the request line's target.
      echo: t.procedure.input(anything).query(({ ctx, input }) => ({ headers: ctx.headers, url: ctx.url, input: input ?? null })),
    }),
  }),
});

const server = createHTTPServer({
  router: appRouter,
  basePath: '/api/trpc/',
  createContext: ({ req }) => ({ headers: req.headers, url: req.url }),
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
