#!/usr/bin/env python3
"""Detection score on the scenario benchmark's open set.

For each seed (1, 2, 3) and difficulty (normal, hard), generates the scenario
with ../shared/scenarios/gen.py (cached in bench-out/), replays each view on
its own through `breachd replay --output jsonl` (app: app.jsonl + auth.log;
nginx: access.log + auth.log) and scores it with score.py --view. Prints one
table per difficulty (per-seed rows and the mean), and writes
bench-out/score.json.

--tag NAME keeps this run's alerts apart (alerts-<view>-NAME.jsonl; read them
with `bench/explain.py DIR <view>-NAME`), for a before/after with BREACHD_BIN.

usage: python3 bench/score.py [--seeds 1,2,3] [--difficulties normal,hard]
                              [--views app,nginx] [--tag NAME] [--extra ARGS...]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCEN = os.path.join(ROOT, "..", "shared", "scenarios")
OUT = os.path.join(ROOT, "bench-out")
# BREACHD_BIN scores another build (e.g. the previous one, for a before/after)
BIN = os.environ.get("BREACHD_BIN") or os.path.join(ROOT, "target", "release", "breachd")
VIEWS = {"app": ["app.jsonl", "auth.log"], "nginx": ["access.log", "auth.log"]}
COLUMNS = ["recall", "precision", "false_per_100k_lines", "median_ttd_fast_s",
           "subjects_within_25pct", "alerts_per_detected_attack", "incidents_per_detected_attack",
           "incidents_mixing_attacks"]


def scenario(seed, difficulty, variant, scale):
    name = f"seed{seed}-{difficulty}-{variant}-x{scale:g}"
    d = os.path.join(OUT, "scen", name)
    if not os.path.exists(os.path.join(d, "meta.json")):
        os.makedirs(d, exist_ok=True)
        subprocess.run([sys.executable, os.path.join(SCEN, "gen.py"), "--seed", str(seed),
                        "--difficulty", difficulty, "--variant", variant, "--scale", str(scale), "--out", d],
                       check=True, stdout=subprocess.DEVNULL)
    return d


def run_view(d, view, extra, tag=""):
    files = [os.path.join(d, f) for f in VIEWS[view]]
    alerts = os.path.join(d, f"alerts-{view}{'-' + tag if tag else ''}.jsonl")
    with open(alerts, "w") as out:
        subprocess.run([BIN, "replay", "--inventory", os.path.join(d, "inventory.yaml"), "--output", "jsonl",
                        *extra, *files], check=True, stdout=out, stderr=subprocess.DEVNULL)
    res = subprocess.run([sys.executable, os.path.join(SCEN, "score.py"), d, alerts, "--view", view, "--json"],
                         check=True, stdout=subprocess.PIPE)
    return json.loads(res.stdout)


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--difficulties", default="normal,hard")
    ap.add_argument("--views", default="app,nginx")
    ap.add_argument("--variant", default="v1")
    ap.add_argument("--scale", type=float, default=1)
    ap.add_argument("--tag", default="", help="name this run's alert files alerts-<view>-TAG.jsonl")
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more replay arguments")
    args = ap.parse_args()
    if not os.environ.get("BREACHD_BIN"):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    results = []
    for difficulty in args.difficulties.split(","):
        print(f"\n## {difficulty} ({args.variant}, scale {args.scale:g})")
        print("| seed | view | " + " | ".join(COLUMNS) + " | missed |")
        print("|" + "---|" * (len(COLUMNS) + 3))
        rows = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            d = scenario(seed, difficulty, args.variant, args.scale)
            for view in args.views.split(","):
                r = run_view(d, view, args.extra, args.tag)
                rows.append(r)
                results.append({"seed": seed, "difficulty": difficulty, "view": view, **r})
                print(f"| {seed} | {view} | " + " | ".join(fmt(r.get(c)) for c in COLUMNS) +
                      f" | {', '.join(r.get('missed', []))} |")
        means = []
        for c in COLUMNS:
            vals = [r[c] for r in rows if isinstance(r.get(c), (int, float))]
            means.append(statistics.mean(vals) if vals else None)
        print("| mean | | " + " | ".join(fmt(m) for m in means) + " | |")
    with open(os.path.join(OUT, "score.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
