#!/usr/bin/env python3
"""Per-subject notice pacing: does `breachd notify subjects send` hold the
configured rate, and what is its ceiling on this machine?

In one run, on one approved GDPR data-subject draft per case (replay of a
scraper reading 120 customers, a scheduler tick a day later, `draft approve`),
it sends N notices to a loopback SMTP sink (Python's asyncio server, answering
250, counting per recipient):
  - paced: `rate = R` (default 10/s) for N = 5 R notices: expected 5 s;
  - ceiling: `rate = 10000` for the same N: the baseline, bounded by the store
    (two durable commits per notice) and the SMTP session.
It prints the achieved rate of each, the paced/configured ratio and the
paced/ceiling ratio, and checks that each address got exactly one notice.
The times include starting the process and enqueueing (a few hundred ms).
On loopback the ceiling is about 15-20 notices/s: lettre writes the message
and its closing dot separately, so each DATA waits for the server's delayed
ACK (~40 ms, Nagle); notices go one SMTP session at a time.

Usage: python3 bench/subjects.py [--bin target/release/breachd] [--rate 10]
Build first: cargo build --release (or pass --bin target/debug/breachd).
"""

import argparse
import datetime
import json
import os
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Sink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), SmtpHandler)
        self.count = Counter()
        self.lock = threading.Lock()


class SmtpHandler(socketserver.StreamRequestHandler):
    def handle(self):
        w = self.wfile.write
        w(b"220 sink ESMTP\r\n")
        rcpt = []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO"):
                w(b"250-sink\r\n250 8BITMIME\r\n")
            elif cmd.startswith(b"RCPT TO:"):
                rcpt.append(line.strip()[8:].decode())
                w(b"250 ok\r\n")
            elif cmd == b"DATA":
                w(b"354 go ahead\r\n")
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
                w(b"250 queued\r\n")
                with self.server.lock:
                    for r in rcpt:
                        self.server.count[r] += 1
                rcpt = []
            elif cmd == b"QUIT":
                w(b"221 bye\r\n")
                return
            else:
                w(b"250 ok\r\n")


def run(binary, cwd, args, env=None):
    e = dict(os.environ, BREACHD_LOG="error")
    e.update(env or {})
    out = subprocess.run([binary] + args, cwd=cwd, env=e, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"breachd {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def case(binary, rate, n):
    sink = Sink()
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as d:
        start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)
        with open(os.path.join(d, "app.jsonl"), "w") as f:
            for i in range(120):
                ts = (start + datetime.timedelta(seconds=i)).isoformat()
                f.write(json.dumps({"ts": ts, "user": "scraper", "role": "customer",
                                    "ip": "203.0.113.9", "method": "GET",
                                    "path": f"/api/customers/{1000 + i}", "status": 200,
                                    "bytes": 900, "records": 1, "subjects": [],
                                    "session": "s-1"}) + "\n")
        with open(os.path.join(d, "inventory.yaml"), "w") as f:
            f.write('resources:\n  - pattern: "/api/customers/{id}"\n    methods: [GET]\n'
                    "    categories: [identity, contact, financial]\n    sensitivity: high\n"
                    "    subject_param: id\nsubjects:\n  total: 5000\n  jurisdictions: {EU: 1.0}\n")
        with open(os.path.join(d, "rules.yaml"), "w") as f:
            f.write("rules:\n  - name: bulk_customer_reads\n    detector: distinct\n"
                    "    match: {has_subject: true, outcome: [success], min_sensitivity: medium}\n"
                    "    key: [user]\n    distinct: subject\n    window: 1h\n    threshold: 50\n"
                    "    severity: high\n")
        with open(os.path.join(d, "breachd.toml"), "w") as f:
            f.write(f'data_dir = "data"\n[incident]\nstore = "s.db"\n'
                    f'[[notify.channel]]\nname = "mail"\nkind = "smtp"\nhost = "127.0.0.1"\n'
                    f'port = {sink.server_address[1]}\ntls = "none"\nfrom = "privacy@example.org"\n'
                    f'to = ["dpo@example.org"]\n'
                    f'[notify.subjects]\nkind = "csv"\npath = "subjects.csv"\nchannel = "mail"\n'
                    f"rate = {float(rate)}\n")
        with open(os.path.join(d, "subjects.csv"), "w") as f:
            f.write("id,email,locale\n")
            for i in range(n):
                f.write(f"{i},s{i}@example.org,{'zh-CN' if i % 4 == 0 else 'en'}\n")
        with open(os.path.join(d, "ids.txt"), "w") as f:
            f.write("".join(f"{i}\n" for i in range(n)))
        run(binary, d, ["replay", "--output", "jsonl", "--inventory", "inventory.yaml",
                        "--rules", "rules.yaml", "--store", "s.db", "app.jsonl"])
        later = (datetime.datetime.now(datetime.timezone.utc)
                 + datetime.timedelta(hours=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
        run(binary, d, ["schedule", "--config", "breachd.toml", "tick"], {"BREACHD_NOW": later})
        drafts = [json.loads(l) for l in
                  run(binary, d, ["draft", "--config", "breachd.toml", "--json", "list"]).splitlines()]
        draft = next(x["id"] for x in drafts if x["recipient"] == "data_subjects")
        shown = json.loads(run(binary, d, ["draft", "--config", "breachd.toml", "--json",
                                           "show", str(draft)]))
        done = lambda t: t.replace("[to be completed before approval]", "completed")
        with open(os.path.join(d, "draft.txt"), "w") as f:
            f.write(f"Subject: {done(shown['subject'])}\n\n{done(shown['body'])}")
        run(binary, d, ["draft", "--config", "breachd.toml", "--by", "bench", "edit",
                        str(draft), "--file", "draft.txt"])
        run(binary, d, ["draft", "--config", "breachd.toml", "--by", "bench", "approve",
                        str(draft), "--reason", "bench"])
        t0 = time.monotonic()
        run(binary, d, ["notify", "subjects", "send", "--config", "breachd.toml",
                        "--draft", str(draft), "--subjects", "ids.txt"])
        took = time.monotonic() - t0
    sink.shutdown()
    once = len(sink.count) == n and all(v == 1 for v in sink.count.values())
    return took, once


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "breachd"))
    ap.add_argument("--rate", type=float, default=10.0)
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)
    if not os.path.exists(a.bin):
        sys.exit(f"{a.bin} is missing: cargo build --release (or pass --bin)")
    n = int(a.rate * 5)
    paced, ok1 = case(a.bin, a.rate, n)
    ceiling, ok2 = case(a.bin, 10000, n)
    print(f"paced:   rate {a.rate:g}/s, {n} notices in {paced:.2f}s = {n / paced:.1f}/s "
          f"(x{(n / paced) / a.rate:.2f} of the configured rate)")
    print(f"ceiling: rate 10000/s, {n} notices in {ceiling:.2f}s = {n / ceiling:.1f}/s "
          f"(paced run takes x{paced / ceiling:.2f} the ceiling's time)")
    print(f"each address exactly once: {ok1 and ok2}")
    if not (ok1 and ok2):
        sys.exit(1)


if __name__ == "__main__":
    main()
