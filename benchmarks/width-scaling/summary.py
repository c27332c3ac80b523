"""The width-scaling table: mean validation loss over the seeds per (layer list, steps, width)."""
import collections, glob, json, os

here = os.path.dirname(os.path.abspath(__file__))
runs = collections.defaultdict(list)
for f in glob.glob(os.path.join(here, "raw", "r-*.json")):
    _, arch, width, steps, seed = os.path.basename(f)[:-5].split("-")
    runs[(arch, int(steps))].append((int(width), int(seed), json.load(open(f))["val_loss"]))
names = {"m2d": "m2 d", "m2faf": "m2 f a f"}
print("| layers | steps | w32 | w64 | w128 | w256 |")
print("|---|---|---|---|---|---|")
for (arch, steps), rs in sorted(runs.items()):
    cells = []
    for w in (32, 64, 128, 256):
        v = [l for (ww, _, l) in rs if ww == w]
        cells.append(f"{sum(v) / len(v):.4f} (n={len(v)})" if v else "—")
    print(f"| `{names[arch]}` | {steps} | " + " | ".join(cells) + " |")
