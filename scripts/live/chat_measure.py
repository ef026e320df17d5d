#!/usr/bin/env python3
"""Streamed chat under load: what Optima adds to each piece of a reply on its way from the
model to the client, with many replies streaming at once.

    scripts/live/chat_measure.py BINARY [--clients 1,50,200] [--replies 3] [--pieces 20] [--gap-ms 20]

Starts a fake OpenAI-compatible upstream on loopback (this process; it streams each reply as
PIECES chunks GAP_MS apart, each chunk carrying the moment it was written) and BINARY (`optima
serve`, fresh data folder, SQLite, rate limiting off, `ai.text_provider = "openai"` pointed at the
fake, generation workers raised so the work queue is not what is measured). Then for each count
of CLIENTS: that many unlimited-tier users each stream REPLIES replies one after another, half
through `POST /v1/chat` and half through the tRPC subscription `r3al.aiChat.streamMessage`, and
every piece's delay from the upstream writing it to the client reading it is recorded (p50, p99,
max), with the time to the first piece, replies complete, and the server's RSS. Both processes
share this machine's clock and CPUs. Standard library only.
"""

import argparse
import asyncio
import json
import os
import re
import sys
import time
import urllib.parse

from server import Server, percentile


class Upstream:
    """An OpenAI-compatible server that streams every completion as timestamped pieces."""

    def __init__(self, pieces, gap_ms):
        self.pieces, self.gap = pieces, gap_ms / 1000

    async def handle(self, reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1)) if b"ontent-length" in head else 0
            body = await reader.readexactly(length) if length else b""
            if not head.startswith(b"POST /v1/chat/completions"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n" + b'{"object":"list","data":[]}   ')
                await writer.drain()
                return
            assert json.loads(body).get("stream") is True
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
            for i in range(self.pieces):
                chunk = {"object": "chat.completion.chunk", "model": "fake", "choices": [{"index": 0, "delta": {"content": f"p{i}@{time.monotonic_ns()} "}}]}
                writer.write(f"data: {json.dumps(chunk)}\n\n".encode())
                await writer.drain()
                await asyncio.sleep(self.gap)
            usage = {"object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": self.pieces}}
            writer.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


# A piece as a `delta` carries it (the final event repeats the whole text: not a piece).
PIECE = re.compile(rb'"delta":"p\d+@(\d+) "')


async def one_reply(port, user, token, via):
    """Streams one reply; the delay of each piece (ms), the time to the first piece, complete."""
    started = time.monotonic_ns()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    if via == "v1":
        body = json.dumps({"messages": [{"role": "user", "content": "go"}], "stream": True}).encode()
        writer.write(
            (f"POST /v1/chat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"
             f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
        )
        done = b"data: [DONE]"
    else:
        query = urllib.parse.quote(json.dumps({"json": {"userId": user, "message": "go"}}))
        writer.write((f"GET /api/trpc/r3al.aiChat.streamMessage?input={query} HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n").encode())
        done = b"event: return"
    await writer.drain()
    delays, first, complete = [], None, False
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            now = time.monotonic_ns()
            for m in PIECE.finditer(line):
                delays.append((now - int(m.group(1))) / 1e6)
                first = first or (now - started) / 1e6
            if line.startswith(done):
                complete = True
                break
    finally:
        writer.close()
    return delays, first, complete


async def client(port, user, token, via, replies):
    out = []
    for _ in range(replies):
        out.append(await one_reply(port, user, token, via))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--clients", default="1,50,200")
    ap.add_argument("--replies", type=int, default=3)
    ap.add_argument("--pieces", type=int, default=20)
    ap.add_argument("--gap-ms", type=int, default=20)
    ap.add_argument("--via", choices=["both", "v1", "trpc"], default="both", help="which skin the clients stream through")
    args = ap.parse_args()
    counts = [int(x) for x in args.clients.split(",")]

    async def run():
        upstream = Upstream(args.pieces, args.gap_ms)
        fake = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
        fake_port = fake.sockets[0].getsockname()[1]
        env = dict(
            OPTIMA_LIMITS__GENERATION_WORKERS="1024",
            OPTIMA_LIMITS__GENERATION_QUEUE="4096",
            OPTIMA_AI__TEXT_PROVIDER="openai",
            OPTIMA_AI__OPENAI__BASE_URL=f"http://127.0.0.1:{fake_port}/v1",
            OPTIMA_AI__OPENAI__CHAT_MODEL="fake",
        )
        loop = asyncio.get_running_loop()
        server = await loop.run_in_executor(None, lambda: Server(args.binary, env))
        port = server.port
        try:
            admin = server.token("chat-admin", "admin")
            users = []
            for i in range(max(counts)):
                user = f"chat-{i}"
                await loop.run_in_executor(None, server.call, "POST", "/api/subscription/upgrade", admin, {"userId": user, "newTier": "unlimited"})
                users.append((user, server.token(user)))
            print(f"optima {args.binary}; {os.cpu_count()} CPUs; replies of {args.pieces} pieces {args.gap_ms} ms apart from a loopback upstream")
            print(f"{'clients':>8} {'replies':>8} {'complete':>9} {'first ms':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'RSS MiB':>8}")
            def skin(i):
                return args.via if args.via != "both" else ("v1" if i % 2 == 0 else "trpc")

            for n in counts:
                peak = [0]

                async def watch_rss():
                    while True:
                        peak[0] = max(peak[0], server.rss_kib())
                        await asyncio.sleep(0.05)

                watcher = asyncio.create_task(watch_rss())
                results = await asyncio.gather(*[
                    client(port, users[i][0], users[i][1], skin(i), args.replies) for i in range(n)
                ])
                watcher.cancel()
                flat = [r for rs in results for r in rs]
                delays = [d for ds, _, _ in flat for d in ds]
                firsts = [f for _, f, _ in flat if f is not None]
                complete = sum(1 for _, _, c in flat if c)
                print(f"{n:>8} {len(flat):>8} {complete:>9} {percentile(firsts, 50):>9.1f} {percentile(delays, 50):>8.2f} "
                      f"{percentile(delays, 99):>8.2f} {max(delays) if delays else float('nan'):>8.2f} {peak[0] / 1024:>8.1f}")
        finally:
            server.stop()
            fake.close()

    asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
