#!/usr/bin/env python3
"""Write→page latency: from appending the log line that makes a detector
fire to the on-call webhook receiving the page, under steady background
traffic.

Starts a loopback webhook receiver (this script), runs `breachd run` on a
config that watches a log directory and pages on-call through that webhook,
and appends benign customer-portal lines (app.jsonl format) to the watched
file at a steady rate (default 20,000 lines/s) from a writer thread. Each
trial then appends a new scraper's 49 reads of distinct customers, waits a
little, notes the time and appends the 50th read — the line that makes the
shipped-style `bulk_customer_reads` rule (50 distinct subjects per user in
an hour) fire — and measures until the receiver gets the page for the new
incident. Trials run one after another, so each page belongs to its trial.

Baseline, in the same run: the same receiver's latency for a direct POST of
a page-sized body from this script (what any notifier pays for HTTP on
loopback). Reports p50/p99 of both, their ratio, the background rate
actually written, and whether p99 is under the 1 s floor.

usage: python3 bench/latency.py [--trials 25] [--rate 20000] [--bin PATH]
The binary defaults to target/release/breachd (cargo build --release).
"""
import argparse
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

INVENTORY = """resources:
  - pattern: "/api/customers/{id}"
    methods: [GET]
    categories: [identity, contact]
    sensitivity: high
    subject_param: id
subjects:
  total: 20000
  jurisdictions: {EU: 1.0}
"""

RULES = """rules:
  - name: bulk_customer_reads
    description: one principal reading many customers' records
    detector: distinct
    match: {has_subject: true, outcome: [success], min_sensitivity: medium}
    key: [user]
    distinct: subject
    window: 1h
    threshold: 50
    severity: high
"""

CONFIG = """data_dir = "data"
[[source]]
paths = ["logs/*.jsonl"]
[detect]
inventory = "inventory.yaml"
rules = "rules.yaml"
[notify.routes]
oncall = ["hook"]
legal = ["hook"]
[[notify.channel]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:{port}/page"
secret_file = "hook.secret"
"""


class Receiver(http.server.BaseHTTPRequestHandler):
    """Records (arrival time, incident id, subject) of every POST."""

    got = []
    lock = threading.Lock()
    cond = threading.Condition(lock)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        t = time.monotonic()
        try:
            j = json.loads(body)
        except ValueError:
            j = {}
        with Receiver.cond:
            Receiver.got.append((t, j.get("incident_id"), j.get("subject", "")))
            Receiver.cond.notify_all()
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def now_ts():
    return datetime.now(timezone.utc).isoformat()


def line(ts, user, ip, path):
    return (
        '{"ts":"%s","user":"%s","role":"customer","ip":"%s","method":"GET","path":"%s",'
        '"status":200,"bytes":900,"records":1,"subjects":[],"session":"s-%s"}\n'
        % (ts, user, ip, path, user)
    )


class Writer(threading.Thread):
    """Appends benign lines at `rate` lines/s in 10 ms batches; `inject`
    appends other lines under the same lock."""

    def __init__(self, path, rate):
        super().__init__(daemon=True)
        self.f = open(path, "a", buffering=1 << 20)
        self.rate = rate
        self.lock = threading.Lock()
        self.stop = False
        self.written = 0
        self.started = None
        self.n = 0

    def benign_batch(self, k):
        ts = now_ts()
        out = []
        for _ in range(k):
            i = self.n
            self.n += 1
            u = (i * 7919) % 20000
            if i % 3 == 0:
                path = "/api/products/%d" % (i % 500)
            else:
                path = "/api/customers/%d" % (u * 2 + i % 2)
            out.append(line(ts, "customer%d" % u, "10.%d.%d.%d" % (u // 62500, (u // 250) % 250, u % 250 + 1), path))
        return "".join(out)

    def run(self):
        self.started = time.monotonic()
        tick = 0.01
        nxt = self.started
        while not self.stop:
            elapsed = time.monotonic() - self.started
            due = int(elapsed * self.rate) - self.written
            if due > 0:
                data = self.benign_batch(due)
                with self.lock:
                    self.f.write(data)
                    self.f.flush()
                self.written += due
            nxt += tick
            time.sleep(max(0.0, nxt - time.monotonic()))

    def inject(self, text):
        with self.lock:
            self.f.write(text)
            self.f.flush()
            return time.monotonic()


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=25)
    ap.add_argument("--rate", type=int, default=20000, help="background lines per second")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds of background before the first trial")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "breachd"))
    ap.add_argument("--json", action="store_true", help="print a JSON summary too")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)
    if not os.path.exists(a.bin):
        sys.exit("no breachd at %s; run `cargo build --release` or pass --bin" % a.bin)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()

    work = tempfile.mkdtemp(prefix="breachd-latency-")
    os.makedirs(os.path.join(work, "logs"))
    for name, text in [
        ("inventory.yaml", INVENTORY),
        ("rules.yaml", RULES),
        ("hook.secret", "whsec-bench\n"),
        ("breachd.toml", CONFIG.format(port=port)),
    ]:
        with open(os.path.join(work, name), "w") as f:
            f.write(text)
    log = os.path.join(work, "logs", "app.jsonl")
    open(log, "w").close()

    # baseline: the receiver's own latency for a direct POST of a page-sized body
    body = json.dumps({"incident_id": "baseline", "subject": "x", "body": "y" * 1500}).encode()
    base = []
    for _ in range(50):
        with Receiver.cond:
            before = len(Receiver.got)
        t0 = time.monotonic()
        req = urllib.request.Request("http://127.0.0.1:%d/page" % port, data=body, headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req).read()
        with Receiver.cond:
            Receiver.cond.wait_for(lambda: len(Receiver.got) > before, timeout=5)
            base.append(Receiver.got[before][0] - t0)

    errlog = open(os.path.join(work, "daemon.log"), "w")
    env = dict(os.environ, BREACHD_LOG="warn")
    env.pop("BREACHD_NOW", None)
    daemon = subprocess.Popen([a.bin, "run", "--config", "breachd.toml"], cwd=work, stderr=errlog, stdout=subprocess.DEVNULL, env=env)
    writer = Writer(log, a.rate)
    lat = []
    missed = 0
    try:
        time.sleep(1.0)
        writer.start()
        time.sleep(a.warmup)
        for trial in range(a.trials):
            user = "scraper%d" % trial
            ip = "203.0.%d.%d" % (113 + trial // 250, trial % 250 + 1)
            ids = [100000 + trial * 1000 + k for k in range(50)]
            ts = now_ts()
            writer.inject("".join(line(ts, user, ip, "/api/customers/%d" % i) for i in ids[:49]))
            time.sleep(0.3)
            with Receiver.cond:
                before = len(Receiver.got)
            t0 = writer.inject(line(now_ts(), user, ip, "/api/customers/%d" % ids[49]))
            with Receiver.cond:
                ok = Receiver.cond.wait_for(
                    lambda: any("escalation" not in s for (_, _, s) in Receiver.got[before:]),
                    timeout=10,
                )
                if ok:
                    t = next(t for (t, _, s) in Receiver.got[before:] if "escalation" not in s)
                    lat.append(t - t0)
                else:
                    missed += 1
            time.sleep(0.2)
        elapsed = time.monotonic() - writer.started
        rate = writer.written / elapsed
    finally:
        writer.stop = True
        daemon.terminate()
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
        srv.shutdown()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)

    ms = lambda s: s * 1000.0
    print("write→page latency (webhook on loopback), %d trials, %d missed, background %.0f lines/s (asked %d):"
          % (a.trials, missed, rate, a.rate))
    print("  breachd page   p50 %8.1f ms   p99 %8.1f ms   max %8.1f ms" % (ms(pct(lat, 50)), ms(pct(lat, 99)), ms(max(lat) if lat else float("nan"))))
    print("  direct POST    p50 %8.2f ms   p99 %8.2f ms   (baseline, same receiver, same run)" % (ms(pct(base, 50)), ms(pct(base, 99))))
    if base and lat:
        print("  ratio p50 %.0fx, p99 %.0fx the baseline" % (pct(lat, 50) / pct(base, 50), pct(lat, 99) / pct(base, 99)))
    floor = 1.0
    verdict = "PASS" if lat and missed == 0 and pct(lat, 99) < floor else "FAIL"
    print("  floor p99 < %.0f ms: %s" % (floor * 1000, verdict))
    if a.keep:
        print("  work directory kept: %s" % work)
    if a.json:
        print(json.dumps({
            "trials": a.trials, "missed": missed, "rate": rate,
            "p50_ms": ms(pct(lat, 50)), "p99_ms": ms(pct(lat, 99)),
            "baseline_p50_ms": ms(pct(base, 50)), "baseline_p99_ms": ms(pct(base, 99)),
            "verdict": verdict,
        }))
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
