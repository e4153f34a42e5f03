#!/usr/bin/env python3
"""Why a scenario scored as it did: each alert with the label it matches (or
FALSE), then each attack with its time-to-detect and subjects estimate.

Reads the alerts bench/score.py left in bench-out/scen/<name>/alerts-<view>.jsonl.

usage: python3 bench/explain.py bench-out/scen/seed1-hard-v1-x1 app [--false]
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "..", "shared", "scenarios"))
import score as S  # noqa: E402


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    d, view = sys.argv[1], sys.argv[2]
    only_false = "--false" in sys.argv
    labels, _ = S.read_jsonl(os.path.join(d, "labels.jsonl"))
    alerts, _ = S.read_jsonl(os.path.join(d, f"alerts-{view}.jsonl"))
    per_label, _, parsed = S.score(labels, alerts)
    keyed = [(lab, S.label_keys(lab), S.ts(lab["start"]), S.ts(lab["end"])) for lab in labels]
    for a, ak, s, e, _ in parsed:
        hits = [lab["id"] for lab, k, ls, le in keyed if S.matches(ak, s, e, k, ls, le)]
        if only_false and hits:
            continue
        ents = " ".join(f"{x['type']}={x['value']}" for x in a["entities"][:4])
        print(f"{','.join(hits) or 'FALSE':28s} {a['detector']:28s} {a['start'][5:19]} {a['end'][5:19]} "
              f"det={a['detected_at'][5:19]} subjects={a.get('subjects')} events={a.get('events')} "
              f"entities={len(a['entities'])} {ents}")
    if only_false:
        return
    print()
    for p in per_label:
        if p["kind"] == "scan_noise":
            continue
        right = S.subjects_right(p["subjects_est"], p["subjects_true"]) if p["detected"] else None
        print(f"{p['id']:28s} detected={p['detected']!s:5} alerts={p['alerts']} ttd_s={p['ttd_s']} "
              f"subjects={p['subjects_est']}/{p['subjects_true']} {'' if right is None else 'ok' if right else 'WRONG'}")


if __name__ == "__main__":
    main()
