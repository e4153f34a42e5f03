#!/usr/bin/env python3
"""Why a scenario scored as it did: each alert with the label it matches (or
FALSE), then each attack with its time-to-detect and subjects estimate.

Reads the alerts bench/score.py left in bench-out/scen/<name>/alerts-<view>.jsonl
(a run with --tag NAME: pass `<view>-NAME`).

With --wrong: only the detected attacks whose subjects estimate is wrong
(outside 25% or 5 of the truth), each with the alerts it matched and whether
the estimate is over or under.

usage: python3 bench/explain.py bench-out/scen/seed1-hard-v1-x1 app [--false | --wrong]
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
    only_wrong = "--wrong" in sys.argv
    labels, _ = S.read_jsonl(os.path.join(d, "labels.jsonl"))
    alerts, _ = S.read_jsonl(os.path.join(d, f"alerts-{view}.jsonl"))
    per_label, _, parsed = S.score(labels, alerts)
    keyed = [(lab, S.label_keys(lab), S.ts(lab["start"]), S.ts(lab["end"])) for lab in labels]
    if only_wrong:
        return wrong(per_label, keyed, parsed)
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


def wrong(per_label, keyed, parsed):
    by_id = {lab["id"]: (lab, k, ls, le) for lab, k, ls, le in keyed}
    for p in per_label:
        if p["kind"] == "scan_noise" or not p["detected"]:
            continue
        if S.subjects_right(p["subjects_est"], p["subjects_true"]):
            continue
        est, true = p["subjects_est"] or 0, p["subjects_true"] or 0
        print(f"{p['id']:28s} {'OVER' if est > true else 'UNDER'} est={est} true={true}  "
              f"{by_id[p['id']][0].get('description', '')}")
        _, k, ls, le = by_id[p["id"]]
        for a, ak, s, e, _ in parsed:
            if S.matches(ak, s, e, k, ls, le):
                print(f"    {a['detector']:28s} {a['start'][5:19]} {a['end'][5:19]} subjects={a.get('subjects')} "
                      f"events={a.get('events')} entities={len(a['entities'])}")


if __name__ == "__main__":
    main()
