#!/usr/bin/env python3
"""API benchmark: request latency of the daemon's HTTP API, as ratios to
`GET /api/health` (no store, no auth) measured in the same run.

Starts `breachd run` (the binary given, release by default) in a temp dir on
the customer-portal fixture (one bulk-read incident), with `[api]` on a
loopback port and one oncall token, then times N sequential keep-alive
requests per route and reports the median and p99 and each median's ratio
to the health baseline.

usage: python3 bench/api.py [--bin target/release/breachd] [--n 2000]
"""
import argparse
import hashlib
import http.client
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone

INVENTORY = """resources:
  - pattern: "/api/customers/{id}"
    methods: [GET]
    categories: [identity, contact]
    sensitivity: high
    subject_param: id
subjects:
  total: 5000
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
TOKEN = "bench-oncall-token"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/breachd")
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "logs"))
        open(os.path.join(d, "inventory.yaml"), "w").write(INVENTORY)
        open(os.path.join(d, "rules.yaml"), "w").write(RULES)
        start = datetime.now(timezone.utc) - timedelta(minutes=10)
        with open(os.path.join(d, "logs/app.jsonl"), "w") as f:
            for i in range(120):
                ts = (start + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
                f.write(json.dumps({"ts": ts, "user": "scraper", "role": "customer", "ip": "203.0.113.9",
                                    "method": "GET", "path": f"/api/customers/{1000 + i}", "status": 200,
                                    "bytes": 900, "records": 1, "subjects": [], "session": "s-1"}) + "\n")
        sha = hashlib.sha256(TOKEN.encode()).hexdigest()
        open(os.path.join(d, "breachd.toml"), "w").write(
            'data_dir = "data"\n[[source]]\nname = "app"\npaths = ["logs/*.jsonl"]\n'
            '[detect]\ninventory = "inventory.yaml"\nrules = "rules.yaml"\n'
            f'[api]\nlisten = "127.0.0.1:0"\n[[api.token]]\nname = "bench"\nrole = "oncall"\nsha256 = "{sha}"\n')
        log = open(os.path.join(d, "daemon.log"), "w")
        env = dict(os.environ, BREACHD_LOG="info", NO_COLOR="1")
        p = subprocess.Popen([binary, "run", "--config", "breachd.toml"], cwd=d, stderr=log, env=env)
        try:
            port = None
            for _ in range(300):
                m = re.search(r"API listening\S*\s+\S*listen\S*?=\S*?127\.0\.0\.1:(\d+)",
                              re.sub(r"\x1b\[[0-9;]*m", "", open(os.path.join(d, "daemon.log")).read()))
                if m:
                    port = int(m.group(1))
                    break
                time.sleep(0.05)
            if port is None:
                raise SystemExit("the API did not start:\n" + open(os.path.join(d, "daemon.log")).read())
            conn = http.client.HTTPConnection("127.0.0.1", port)
            auth = {"Authorization": f"Bearer {TOKEN}"}

            def get(path, headers):
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                body = r.read()
                return r.status, body

            # wait for the incident
            for _ in range(300):
                st, body = get("/api/incidents", auth)
                if st == 200 and json.loads(body):
                    break
                time.sleep(0.05)
            inc = json.loads(body)[0]["id"]
            routes = [("health (baseline)", "/api/health", {}),
                      ("incidents list", "/api/incidents", auth),
                      ("incident show", f"/api/incidents/{inc}", auth),
                      ("timeline", f"/api/incidents/{inc}/timeline", auth),
                      ("metrics", "/metrics", {}),
                      ("refused (no token)", "/api/incidents", {})]
            results = []
            for name, path, headers in routes:
                for _ in range(50):
                    get(path, headers)  # warm-up
                times = []
                for _ in range(args.n):
                    t = time.perf_counter()
                    get(path, headers)
                    times.append(time.perf_counter() - t)
                times.sort()
                results.append((name, statistics.median(times), times[int(len(times) * 0.99) - 1]))
            base = results[0][1]
            print(f"{'route':<22} {'median µs':>10} {'p99 µs':>10} {'× health':>9}")
            for name, med, p99 in results:
                print(f"{name:<22} {med * 1e6:>10.0f} {p99 * 1e6:>10.0f} {med / base:>9.2f}")
        finally:
            p.terminate()
            p.wait(timeout=30)


if __name__ == "__main__":
    main()
