#!/usr/bin/env python3
"""Memory, connection and /metrics figures of a release build under the shapes issue 16 found.

    python3 scripts/abuse/measure.py BINARY logins    # RSS around a 100-login tRPC batch and 100 concurrent logins
    python3 scripts/abuse/measure.py BINARY silent    # how long silent sockets stay open; the per-address cap
    python3 scripts/abuse/measure.py BINARY methods   # /metrics after 5,000 requests with invented methods

Each starts BINARY on 127.0.0.1 with a fresh data directory (defaults, plus the overrides
named in the code: rate limits off so the shapes reach the server) and stops it at the end.
Only loopback traffic; every loop is bounded.
"""
import json, os, socket, subprocess, sys, tempfile, time, threading, urllib.request, re, concurrent.futures as cf
BIN = sys.argv[1]
def rss(pid):
    d = {}
    for line in open(f"/proc/{pid}/status"):
        k, v = line.split(":", 1)
        if k in ("VmRSS", "VmHWM"): d[k] = int(v.split()[0]) // 1024
    return d
def start(extra_env):
    data = tempfile.mkdtemp()
    env = dict(os.environ, OPTIMA_LOG__FORMAT="json", **extra_env)
    log = open(data + "/log", "w")
    p = subprocess.Popen([BIN, "serve", "--bind", "127.0.0.1:0", "--data-dir", data + "/d"], env=env, stdout=log, stderr=log)
    for _ in range(300):
        m = re.search(r'"addr":"127\.0\.0\.1:(\d+)"', open(data + "/log").read())
        if m: return p, int(m.group(1)), data
        time.sleep(0.1)
    raise SystemExit("no start")
def req(port, method, path, body=None, headers=None):
    r = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=None if body is None else json.dumps(body).encode(), method=method, headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(r, timeout=600) as resp: return resp.status, resp.read()
    except urllib.error.HTTPError as e: return e.code, e.read()
what = sys.argv[2]
if what == "logins":
    p, port, data = start({"OPTIMA_LIMITS__RATE_LIMITING": "false", "OPTIMA_LIMITS__MAX_TRPC_BATCH": "100", "OPTIMA_LIMITS__MAX_CONNECTIONS_PER_IP": "200"})
    req(port, "POST", "/api/auth/register", {"username": "victim", "password": "the right password"})
    time.sleep(1); print("start", rss(p.pid))
    n = 100
    paths = ",".join(["r3al.auth.login"] * n)
    body = {str(i): {"json": {"username": "victim", "password": f"wrong guess {i}"}} for i in range(n)}
    t = time.time(); st, _ = req(port, "POST", f"/api/trpc/{paths}?batch=1", body); print("batch of 100 logins", st, f"{time.time()-t:.1f}s", rss(p.pid))
    time.sleep(2); print("2 s later", rss(p.pid))
    t = time.time()
    with cf.ThreadPoolExecutor(100) as ex:
        list(ex.map(lambda i: req(port, "POST", "/api/auth/login", {"username": "victim", "password": f"guess {i}"}), range(100)))
    print("100 concurrent REST logins", f"{time.time()-t:.1f}s", rss(p.pid))
    time.sleep(2); print("2 s later", rss(p.pid))
    p.terminate(); p.wait()
    p, port, data = start({})
    st, b = req(port, "POST", f"/api/trpc/{paths}?batch=1", body); print("default config, batch of 100:", st, b[:160])
    p.terminate(); p.wait()
elif what == "silent":
    p, port, data = start({})
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
    t = time.time(); closed = []
    for s in socks:
        s.settimeout(120)
        try: s.recv(1)
        except Exception: pass
        closed.append(time.time() - t)
    print(f"50 silent sockets: all closed after {max(closed):.1f} s (first {min(closed):.1f} s)")
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
    time.sleep(0.5)
    extra = socket.create_connection(("127.0.0.1", port)); extra.settimeout(5)
    try: print("the 65th connection from one address:", extra.recv(200)[:40])
    except Exception as e: print("the 65th connection from one address:", repr(e))
    print("health meanwhile from the same address:", end=" ")
    try: print(req(port, "GET", "/health")[0])
    except Exception as e: print(e)
    for s in socks: s.close()
    time.sleep(0.5); print("health after closing them:", req(port, "GET", "/health")[0])
    p.terminate(); p.wait()
elif what == "methods":
    p, port, data = start({"OPTIMA_LIMITS__RATE_LIMITING": "false"})
    def odd(i):
        s = socket.create_connection(("127.0.0.1", port)); s.sendall(f"M{i:05d}X /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        s.settimeout(10)
        try:
            while s.recv(4096): pass
        except Exception: pass
        s.close()
    with cf.ThreadPoolExecutor(16) as ex: list(ex.map(odd, range(5000)))
    st, b = req(port, "GET", "/metrics"); lines = [l for l in b.decode().splitlines() if l.startswith("http_requests_total")]
    print(f"/metrics after 5,000 odd methods: {len(b)} bytes, {len(lines)} http_requests_total series; other: {[l for l in lines if 'other' in l]}")
    p.terminate(); p.wait()
