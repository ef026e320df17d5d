"""What the live measurements share: a throwaway `optima serve` on a fresh data folder (SQLite,
rate limiting and connection bounds off for the run), its tokens and RSS, and percentiles.
Standard library only."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else float("nan")


class Server:
    """`optima serve` on 127.0.0.1, with `env` (OPTIMA_… settings) over the run's own; stopped
    and its folder removed by `stop` (or leaving a `with` block)."""

    def __init__(self, binary, env=None):
        self.binary = binary
        self.work = tempfile.mkdtemp(prefix="optima-live.")
        self.config = os.path.join(self.work, "optima.toml")
        with open(self.config, "w") as f:
            f.write("# defaults only\n")
        self.data = os.path.join(self.work, "data")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIMA_")}
        self.env.update(
            OPTIMA_LIMITS__RATE_LIMITING="false",
            OPTIMA_LIMITS__MAX_CONNECTIONS="20000",
            OPTIMA_LIMITS__MAX_CONNECTIONS_PER_IP="20000",
            OPTIMA_EVENTS__MAX_STREAMS_PER_USER="10000",
            OPTIMA_EVENTS__MAX_STREAMS_PER_IP="20000",
            OPTIMA_LOG__LEVEL="warn",
        )
        self.env.update(env or {})
        self.process = subprocess.Popen(
            [binary, "serve", "--config", self.config, "--bind", f"127.0.0.1:{self.port}", "--data-dir", self.data],
            env=self.env, stdout=open(os.path.join(self.work, "server.log"), "w"), stderr=subprocess.STDOUT,
        )
        for _ in range(300):
            try:
                urllib.request.urlopen(self.base + "/health", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the server did not answer /health within 30 s")

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.stop()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.work, ignore_errors=True)

    def token(self, user, role="user"):
        out = subprocess.run(
            [self.binary, "token", "--config", self.config, "--data-dir", self.data, "--user", user, "--role", role, "--ttl", "86400"],
            env=self.env, check=True, capture_output=True, text=True,
        )
        return out.stdout.strip()

    def rss_kib(self):
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def call(self, method, path, token, body=None, expect=(200, 201)):
        """A JSON request; exits with the answer when its status is not one of `expect`."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, text = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        if status not in expect:
            raise SystemExit(f"error: {method} {path} answered {status}: {text[:300]!r}")
        return json.loads(text) if text else None
