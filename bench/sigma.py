#!/usr/bin/env python3
"""Sigma benchmark: what matching the Sigma web rules costs per line of a replay.

On the scale-10 scenario's nginx view (access.log + auth.log, generated with
../shared/scenarios/gen.py and cached in bench-out/scale10/), times in the
same run, for each binary given:
  - `wc -l` on the access log (the floor any line reader pays),
  - the full detection path with the signature rules taken out of the
    default rules (`--rules` without `detector: signature`), so no Sigma
    matching runs at all: the baseline,
  - the default rules with the shipped signatures only (no `--sigma`),
  - the default rules with the shipped signatures and every loadable Sigma
    web rule of ../shared/corpus/sigma (`--sigma`), as issue 3 measures.
The Sigma overhead per line is (variant - baseline) / lines. Each time is
the child's CPU time (user + system, from its rusage), the median of
`--runs` runs, interleaved across binaries: on a shared machine CPU time is
far steadier than wall time. Wall medians are reported beside it.

With `--before BIN` (an older build, e.g. main's), both binaries run in the
same session and the report gives the overhead ratio before/after, and
checks that both print the same alert lines with all Sigma rules loaded.

usage: python3 bench/sigma.py [--runs 5] [--before PATH] [--scale 10]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN = os.path.join(ROOT, "..", "shared", "scenarios", "gen.py")
OUT = os.path.join(ROOT, "bench-out")
BIN = os.path.join(ROOT, "target", "release", "breachd")
SIGMA = os.path.join(ROOT, "..", "shared", "corpus", "sigma")


def scenario(scale):
    d = os.path.join(OUT, f"scale{scale}")
    if not os.path.exists(os.path.join(d, "access.log")):
        os.makedirs(OUT, exist_ok=True)
        print(f"generating scale {scale} scenario in {d} ...", file=sys.stderr)
        subprocess.run([sys.executable, GEN, "--seed", "1", "--scale", str(scale), "--out", d],
                       check=True, stdout=subprocess.DEVNULL)
    return d


def rules_without_signatures(path):
    """The shipped default rules minus every `detector: signature` rule."""
    with open(os.path.join(ROOT, "rules", "default.yaml")) as f:
        text = f.read()
    head, sep, body = text.partition("\nrules:\n")
    if not sep:
        sys.exit("rules/default.yaml has no top-level `rules:` list")
    blocks = body.split("\n  - name:")
    kept = [b for b in blocks[1:] if "detector: signature" not in b]
    if len(kept) == len(blocks) - 1:
        sys.exit("rules/default.yaml has no signature rule to take out")
    with open(path, "w") as f:
        f.write(head + sep + blocks[0] + "".join("\n  - name:" + b for b in kept))
    return path


def run_cpu(cmd):
    """(cpu seconds, wall seconds, stdout, stderr) of one run; the CPU time
    is the child's own (rusage of reaped children before and after), so time
    spent waiting for a core is not counted."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr.decode(errors='replace')[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--bin", default=BIN, help="the build to measure (default: target/release/breachd)")
    ap.add_argument("--before", help="an older build to compare with in the same run")
    ap.add_argument("--no-build", action="store_true", help="do not run `cargo build --release` first")
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    d = scenario(args.scale)
    log, auth, inv = (os.path.join(d, n) for n in ("access.log", "auth.log", "inventory.yaml"))
    lines = int(subprocess.run(["wc", "-l", log, auth], stdout=subprocess.PIPE, check=True)
                .stdout.split()[-2])
    os.makedirs(os.path.join(OUT, "sigma"), exist_ok=True)
    nosig = rules_without_signatures(os.path.join(OUT, "sigma", "rules-no-signatures.yaml"))
    subprocess.run(["cat", log, auth], stdout=subprocess.DEVNULL, check=True)  # warm the page cache

    base = ["replay", "--inventory", inv, "--output", "jsonl", "--summary", "json"]
    variants = [
        ("no Sigma (signature rules removed)", base + ["--rules", nosig]),
        ("shipped signatures only", base),
        ("shipped + corpus Sigma rules", base + ["--sigma", SIGMA]),
    ]
    bins = [("after", args.bin)] + ([("before", args.before)] if args.before else [])
    times = {(b, v): ([], []) for b, _ in bins for v, _ in variants}
    wc = ([], [])
    outputs = {}
    summaries = {}
    for _ in range(args.runs):
        cpu, wall, _, _ = run_cpu(["wc", "-l", log, auth])
        wc[0].append(cpu)
        wc[1].append(wall)
        for b, path in bins:
            for v, cmd in variants:
                cpu, wall, out, err = run_cpu([path] + cmd + [log, auth])
                times[(b, v)][0].append(cpu)
                times[(b, v)][1].append(wall)
                outputs[(b, v)] = out
                summaries[(b, v)] = json.loads(err.strip().splitlines()[-1])
    med = {k: (statistics.median(c), statistics.median(w)) for k, (c, w) in times.items()}
    wc_cpu, wc_wall = statistics.median(wc[0]), statistics.median(wc[1])

    print(f"\nscale {args.scale} nginx view: {lines:,} lines (access.log + auth.log), "
          f"median of {args.runs} runs; CPU s = user + system of the child")
    print(f"  {'binary':7} {'variant':38} {'CPU s':>7} {'wall s':>7} {'lines/s (CPU)':>14} "
          f"{'vs wc -l':>9} {'Sigma ns/line':>14}")
    print(f"  {'':7} {'wc -l':38} {wc_cpu:7.3f} {wc_wall:7.3f} {lines / max(wc_cpu, 1e-9):14,.0f} {1:9.3f}")
    result = {"scale": args.scale, "lines": lines, "runs": args.runs, "wc_cpu_s": wc_cpu, "rows": []}
    overhead = {}
    for b, path in bins:
        zero = med[(b, variants[0][0])][0]
        for v, _ in variants:
            cpu, wall = med[(b, v)]
            ns = (cpu - zero) / lines * 1e9
            overhead[(b, v)] = ns
            print(f"  {b:7} {v:38} {cpu:7.3f} {wall:7.3f} {lines / cpu:14,.0f} {wc_cpu / cpu:9.3f} {ns:14.1f}")
            result["rows"].append({"binary": b, "path": path, "variant": v, "cpu_s": cpu, "wall_s": wall,
                                   "lines_per_cpu_s": lines / cpu, "ratio_to_wc": wc_cpu / cpu,
                                   "sigma_ns_per_line": ns})
    s = summaries[("after", variants[2][0])]
    print(f"  Sigma files: {s.get('sigma_rules_loaded')} of {s.get('sigma_rules_seen')} loaded; "
          f"alerts with all rules: {s['alerts']}")
    if args.before:
        for v, _ in variants[1:]:
            a, b = overhead[("after", v)], overhead[("before", v)]
            ratio = b / a if a > 0 else float("inf")
            print(f"  Sigma overhead, {v}: before {b:.1f} ns/line, after {a:.1f} ns/line: "
                  f"{ratio:.2f}x less")
            result[f"overhead_ratio {v}"] = ratio
        full = variants[2][0]
        ca, cb = med[("after", full)][0], med[("before", full)][0]
        print(f"  full path with all Sigma rules: {lines / cb:,.0f} -> {lines / ca:,.0f} lines per CPU second "
              f"({cb / ca:.2f}x)")
        # alert lines come out in an order that varies from run to run
        # (per-process hash seeds), so they are compared as sorted sets
        same = all(sorted(outputs[("after", v)].splitlines()) == sorted(outputs[("before", v)].splitlines())
                   for v, _ in variants)
        print(f"  alert lines identical before and after (as sets), every variant: {'yes' if same else 'NO'}")
        result["alerts_identical"] = same
        if not same:
            sys.exit("the two builds printed different alerts")
    with open(os.path.join(OUT, "sigma.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"\nwritten to {os.path.join(OUT, 'sigma.json')}")


if __name__ == "__main__":
    main()
