#!/usr/bin/env bash
# A second corpus, unlike Tiny Shakespeare: flashnas's own Rust sources as they were at commit
# eb81ece (every tracked .rs file, in path order; ~1.3 MB of code, byte-level). The same bytes on
# every clone, so campaigns on it (configs/code-search.toml) are reproducible.
#   scripts/code-corpus.sh [OUT]   (default: results/corpus/flashnas-src.txt)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/results/corpus/flashnas-src.txt}"
commit=eb81ece
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
git -C "$root" ls-tree -r --name-only "$commit" | grep '\.rs$' | LC_ALL=C sort | while read -r f; do
  git -C "$root" show "$commit:$f"
done > "$tmp"
mv "$tmp" "$out"
echo "$out: $(wc -c < "$out") bytes from $(git -C "$root" ls-tree -r --name-only "$commit" | grep -c '\.rs$') files at $commit"
