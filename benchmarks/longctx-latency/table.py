#!/usr/bin/env python3
"""Fastest-of-two table from raw/decode-{before,after}-{1,2}.json (bench decode --json)."""
import json, sys, os
d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "raw")
runs = sys.argv[1:] or ["1", "2"]
def load(tag):
    js = [json.load(open(os.path.join(d, f"decode-{tag}-{r}.json"))) for r in runs]
    bw = max(j["copy_bandwidth_bytes_per_s"] for j in js)
    out = {}
    for row in js[0]["rows"]:
        k = row["kind"]
        ms = [min(j2["ms_per_token"][i] for j in js for j2 in j["rows"] if j2["kind"] == k)
              for i in range(len(row["ms_per_token"]))]
        b = row["bytes_per_step"]
        est = [x / bw * 1e3 for x in b]
        out[k] = (ms, b, est)
    return out, bw
before, bwb = load("before")
after, bwa = load("after")
print(f"copy bandwidth (best of the runs): before {bwb/1e9:.1f} GB/s, after {bwa/1e9:.1f} GB/s\n")
print("| kind | bytes growth | before: ms/token | growth | Δ/Δest | after: ms/token | growth | Δ/Δest | × est (after, worst) |")
print("|---|---|---|---|---|---|---|---|---|")
for k in before:
    cells = []
    for ms, b, est in (before[k], after[k]):
        g = ms[-1] / ms[0]
        bg = b[-1] / b[0]
        marg = (ms[-1] - ms[0]) / (est[-1] - est[0]) if bg >= 1.05 else None
        cells.append((ms, g, marg, max(m / e for m, e in zip(ms, est)), bg))
    (mb, gb, db, _, bg), (ma, ga, da, xa, _) = cells
    f = lambda m: "–" if m is None else f"{m:.2f}"
    print(f"| {k} | {bg:.2f} | {mb[0]:.3f} / {mb[-1]:.3f} | {gb:.2f} | {f(db)} | {ma[0]:.3f} / {ma[-1]:.3f} | {ga:.2f} | {f(da)} | {xa:.2f} |")
