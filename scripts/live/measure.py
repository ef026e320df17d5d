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
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

DEPT = "Live PD"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def call(base, method, path, token, body=None, expect=(200, 201)):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, text = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    if status not in expect:
        sys.exit(f"error: {method} {path} answered {status}: {text[:300]!r}")
    return json.loads(text) if text else None


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


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else float("nan")


async def round_of(base, port, pid, members, streams, comms, sender_token):
    rss_before = rss_kib(pid)
    opened = []
    for i in range(streams):
        user, token = members[i % len(members)]
        s = Stream(port, user, token)
        await s.open()
        opened.append(s)
    await asyncio.sleep(1.0)
    rss_after = rss_kib(pid)
    loop = asyncio.get_running_loop()
    for n in range(comms):
        body = {"fromUserId": "live-sender", "content": f"sent {n} at {time.monotonic_ns()}", "classification": "public"}
        await loop.run_in_executor(None, call, base, "POST", "/api/tactical/comm/send", sender_token, body)
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

    work = tempfile.mkdtemp(prefix="optima-live.")
    config = os.path.join(work, "optima.toml")
    with open(config, "w") as f:
        f.write("# defaults only\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIMA_")}
    env.update(
        OPTIMA_LIMITS__RATE_LIMITING="false",
        OPTIMA_LIMITS__MAX_CONNECTIONS="20000",
        OPTIMA_LIMITS__MAX_CONNECTIONS_PER_IP="20000",
        OPTIMA_EVENTS__MAX_STREAMS_PER_USER="10000",
        OPTIMA_EVENTS__MAX_STREAMS_PER_IP="20000",
        OPTIMA_LOG__LEVEL="warn",
    )
    data = os.path.join(work, "data")
    server = subprocess.Popen(
        [args.binary, "serve", "--config", config, "--bind", f"127.0.0.1:{port}", "--data-dir", data],
        env=env, stdout=open(os.path.join(work, "server.log"), "w"), stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)

        def token(user, role="user"):
            out = subprocess.run(
                [args.binary, "token", "--config", config, "--data-dir", data, "--user", user, "--role", role, "--ttl", "86400"],
                env=env, check=True, capture_output=True, text=True,
            )
            return out.stdout.strip()

        admin = token("live-admin", "admin")
        members = []
        for i in range(args.members + 1):
            user = "live-sender" if i == args.members else f"live-{i}"
            t = token(user)
            call(base, "POST", "/api/subscription/upgrade", admin, {"userId": user, "newTier": "unlimited"})
            call(base, "POST", "/api/tactical/register", t, {"userId": user, "serviceBranch": "police", "department": DEPT, "rank": "Officer"})
            call(base, "PUT", f"/api/tactical/verify/{user}", admin, {"status": "verified", "clearanceLevel": "public"})
            members.append((user, t))
        sender = members.pop()
        print(f"optima {args.binary}; {os.cpu_count()} CPUs; {args.members} members, {args.comms} comms per round, one every 100 ms")
        print(f"{'streams':>8} {'KiB/stream':>11} {'RSS MiB':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'missing':>8}")
        for n in counts:
            r = asyncio.run(round_of(base, port, server.pid, members, n, args.comms, sender[1]))
            print(
                f"{r['streams']:>8} {r['kib_per_stream']:>11.1f} {r['rss_mib']:>8.1f} {r['p50_ms']:>8.1f} "
                f"{r['p99_ms']:>8.1f} {r['max_ms']:>8.1f} {r['missing']:>8}"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
