#!/usr/bin/env python3
"""Live events under load: send-to-receive latency with many open streams, memory per stream,
and how many streams one server holds before delivery degrades.

    scripts/live/measure.py BINARY [--streams 500,1000,2000] [--comms 20] [--members 50]

Starts BINARY (`optima serve`, fresh data folder, SQLite, rate limiting off, stream and
connection bounds raised for the run), makes MEMBERS verified Tactical HQ members of one
department through the HTTP API (tokens from `optima token`), then for each count of STREAMS:
opens that many `GET /api/events?topics=comms` streams (spread over the members), measures the
server's RSS before and after (memory per open stream), sends COMMS public department comms one
every 100 ms through `POST /api/tactical/comm/send`, each carrying its send time, and measures
on every stream when each arrives (send-to-receive latency: p50, p99, max, and deliveries
missing). Streams are read by this one asyncio process on the same machine, so the client's
own CPU is part of the figures. Standard library only.
"""

import argparse
import asyncio
import os
import re
import sys
import time

from server import Server, percentile

DEPT = "Live PD"


class Stream:
    """One SSE connection, read by hand: the arrival time of each comm's content."""

    def __init__(self, port, user, token):
        self.port, self.user, self.token = port, user, token
        self.arrivals = {}
        self.task = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
        self.writer.write(
            (
                f"GET /api/events?userId={self.user}&topics=comms HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(head.decode(errors="replace"))
        self.task = asyncio.create_task(self.read())

    async def read(self):
        content = re.compile(rb'"content":"sent (\d+) at (\d+)"')
        try:
            while True:
                line = await self.reader.readline()
                if not line:
                    return
                m = content.search(line)
                if m:
                    self.arrivals[int(m.group(1))] = time.monotonic_ns() - int(m.group(2))
        except (asyncio.CancelledError, ConnectionError):
            return

    def close(self):
        if self.task:
            self.task.cancel()
        self.writer.close()


async def round_of(server, members, streams, comms, sender_token):
    port = server.port
    rss_before = server.rss_kib()
    opened = []
    for i in range(streams):
        user, token = members[i % len(members)]
        s = Stream(port, user, token)
        await s.open()
        opened.append(s)
    await asyncio.sleep(1.0)
    rss_after = server.rss_kib()
    loop = asyncio.get_running_loop()
    for n in range(comms):
        body = {"fromUserId": "live-sender", "content": f"sent {n} at {time.monotonic_ns()}", "classification": "public"}
        await loop.run_in_executor(None, server.call, "POST", "/api/tactical/comm/send", sender_token, body)
        await asyncio.sleep(0.1)
    await asyncio.sleep(3.0)
    latencies = [ns / 1e6 for s in opened for ns in s.arrivals.values()]
    missing = streams * comms - len(latencies)
    for s in opened:
        s.close()
    await asyncio.sleep(0.5)
    return {
        "streams": streams,
        "kib_per_stream": (rss_after - rss_before) / streams,
        "rss_mib": rss_after / 1024,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else float("nan"),
        "missing": missing,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--streams", default="500")
    ap.add_argument("--comms", type=int, default=20)
    ap.add_argument("--members", type=int, default=50)
    args = ap.parse_args()
    counts = [int(x) for x in args.streams.split(",")]

    with Server(args.binary) as server:
        token = server.token
        admin = token("live-admin", "admin")
        members = []
        for i in range(args.members + 1):
            user = "live-sender" if i == args.members else f"live-{i}"
            t = token(user)
            server.call("POST", "/api/subscription/upgrade", admin, {"userId": user, "newTier": "unlimited"})
            server.call("POST", "/api/tactical/register", t, {"userId": user, "serviceBranch": "police", "department": DEPT, "rank": "Officer"})
            server.call("PUT", f"/api/tactical/verify/{user}", admin, {"status": "verified", "clearanceLevel": "public"})
            members.append((user, t))
        sender = members.pop()
        print(f"optima {args.binary}; {os.cpu_count()} CPUs; {args.members} members, {args.comms} comms per round, one every 100 ms")
        print(f"{'streams':>8} {'KiB/stream':>11} {'RSS MiB':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'missing':>8}")
        for n in counts:
            r = asyncio.run(round_of(server, members, n, args.comms, sender[1]))
            print(
                f"{r['streams']:>8} {r['kib_per_stream']:>11.1f} {r['rss_mib']:>8.1f} {r['p50_ms']:>8.1f} "
                f"{r['p99_ms']:>8.1f} {r['max_ms']:>8.1f} {r['missing']:>8}"
            )


if __name__ == "__main__":
    main()
