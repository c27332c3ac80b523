"""ASHA's compute to reach random's final quality per run of run.sh, into results.tsv."""
import json
import pathlib

raw = pathlib.Path(__file__).parent / "raw"
rows = []
for f in sorted(raw.glob("*.summary.json")):
    d = json.loads(f.read_text())
    by = {s["strategy"]: s for s in d["summaries"]}
    a = by["asha"]
    ratio = a["compute_to_target"] / by["random"]["compute_to_target"] if a["compute_to_target"] else None
    lo, hi = a["compute_ratio_ci95"]
    rows.append(
        [
            f.name.removesuffix(".summary.json"),
            f"{d['compute_s']:.1f}",
            f"{a['by_compute'][-1][1]['mean']:.5f}",
            f"{by['random']['by_compute'][-1][1]['mean']:.5f}",
            "n.r." if ratio is None else f"{ratio:.2f}",
            "n.r." if lo is None else f"{lo:.2f}",
            "n.r." if hi is None else f"{hi:.2f}",
        ]
    )
head = ["run", "compute_s", "asha_true_hv", "random_true_hv", "asha_compute_to_reach", "ci95_low", "ci95_high"]
out = "\n".join("\t".join(r) for r in [head] + rows) + "\n"
(pathlib.Path(__file__).parent / "results.tsv").write_text(out)
print(out)
