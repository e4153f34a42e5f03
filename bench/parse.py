#!/usr/bin/env python3
"""Pipeline benchmark: `breachd replay` beside `wc -l` on the same file.

Generates the scenario portal's nginx log at scale 1 and 10 with
../shared/scenarios/gen.py (cached in bench-out/), builds breachd in release
mode, and times, on each file and in the same run:
  - `wc -l FILE` (the floor any line reader pays: read + count newlines),
  - a Python regex loop with per-IP state (what a quick script does),
  - `breachd replay --until parse --output jsonl --summary json FILE`
    (every line framed, checked and parsed to an Event; nothing printed),
  - the full detection path on the nginx view (access.log + auth.log) with
    the inventory, the default rules and every loadable Sigma web rule.
Reports the median of N runs, lines/s, the ratio to `wc -l`, and peak RSS.

usage: python3 bench/parse.py [--runs 5] [--scales 1,10] [--no-python]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN = os.path.join(ROOT, "..", "shared", "scenarios", "gen.py")
OUT = os.path.join(ROOT, "bench-out")
BIN = os.path.join(ROOT, "target", "release", "breachd")

PY_BASELINE = r'''
import re, sys
rx = re.compile(rb'^(\S+) \S+ (\S+) \[([^\]]+)\] "([^"]*)" (\d{3}) (\d+|-)')
per_ip = {}
n = 0
with open(sys.argv[1], 'rb') as f:
    for line in f:
        m = rx.match(line)
        if m:
            ip = m.group(1)
            per_ip[ip] = per_ip.get(ip, 0) + 1
            n += 1
print(n)
'''


def scenario(scale):
    d = os.path.join(OUT, f"scale{scale}")
    log = os.path.join(d, "access.log")
    if not os.path.exists(log):
        os.makedirs(OUT, exist_ok=True)
        print(f"generating scale {scale} scenario in {d} ...", file=sys.stderr)
        subprocess.run([sys.executable, GEN, "--seed", "1", "--scale", str(scale), "--out", d],
                       check=True, stdout=subprocess.DEVNULL)
    return log


def timed(cmd):
    """Wall seconds and the finished process."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    dt = time.perf_counter() - t0
    return dt, p


def bench(name, cmd, runs):
    times = []
    last = None
    for _ in range(runs):
        dt, p = timed(cmd)
        times.append(dt)
        last = p
    return {"name": name, "median_s": statistics.median(times), "min_s": min(times),
            "stderr": last.stderr.decode(errors="replace")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scales", default="1,10")
    ap.add_argument("--no-python", action="store_true", help="skip the slow Python baseline")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    results = []
    for scale in [int(s) for s in args.scales.split(",")]:
        log = scenario(scale)
        lines = int(subprocess.run(["wc", "-l", log], stdout=subprocess.PIPE, check=True).stdout.split()[0])
        size = os.path.getsize(log)
        # warm the page cache so every contender reads from memory
        subprocess.run(["cat", log], stdout=subprocess.DEVNULL, check=True)
        rows = [bench("wc -l", ["wc", "-l", log], args.runs)]
        if not args.no_python:
            rows.append(bench("python regex + per-IP state", [sys.executable, "-c", PY_BASELINE, log], max(1, args.runs // 2)))
        b = bench("breachd replay --until parse", [BIN, "replay", "--until", "parse", "--output", "jsonl",
                                                  "--summary", "json", log], args.runs)
        sigma = os.path.join(ROOT, "..", "shared", "corpus", "sigma")
        auth = os.path.join(os.path.dirname(log), "auth.log")
        inv = os.path.join(os.path.dirname(log), "inventory.yaml")
        full = bench("breachd replay (detect, all rules+Sigma)",
                     [BIN, "replay", "--inventory", inv, "--sigma", sigma, "--output", "jsonl",
                      "--summary", "json", log, auth], max(1, args.runs // 2))
        fsum = json.loads(full["stderr"].strip().splitlines()[-1])
        full["peak_rss_bytes"] = fsum["peak_rss_bytes"]
        summary = json.loads(b["stderr"].strip().splitlines()[-1])
        assert summary["lines"] == lines, (summary["lines"], lines)
        # breachd reports its own peak (VmHWM after exec); a child's rusage
        # seen from Python would include Python's pages from before the exec.
        b["peak_rss_bytes"] = summary["peak_rss_bytes"]
        b["events"] = summary["events"]
        b["malformed"] = summary["malformed_total"]
        rows.append(b)
        rows.append(full)
        wc = rows[0]["median_s"]
        print(f"\nscale {scale}: {lines:,} lines, {size / 1e6:.0f} MB")
        print(f"  {'command':42} {'median s':>9} {'lines/s':>14} {'vs wc -l':>9} {'peak RSS':>10}")
        for r in rows:
            lps = lines / r["median_s"]
            rss = f"{r['peak_rss_bytes'] / 2**20:8.1f} MB" if "peak_rss_bytes" in r else f"{'-':>11}"
            print(f"  {r['name']:42} {r['median_s']:9.3f} {lps:14,.0f} {wc / r['median_s']:9.3f} {rss}")
            results.append({"scale": scale, "lines": lines, "bytes": size, "command": r["name"],
                            "median_s": r["median_s"], "lines_per_s": lps,
                            "ratio_to_wc": wc / r["median_s"], "peak_rss_bytes": r.get("peak_rss_bytes")})
        print(f"  breachd: {b['events']:,} events, {b['malformed']} malformed; detect: {fsum['alerts']} alerts, "
              f"{fsum['sigma_rules_loaded']} of {fsum['sigma_rules_seen']} Sigma files, peak state {fsum['peak_state_keys']:,} keys")
    with open(os.path.join(OUT, "parse.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"\nwritten to {os.path.join(OUT, 'parse.json')}")


if __name__ == "__main__":
    main()
