#!/usr/bin/env bash
# The device check for a lent GPU machine, in one run: adapter report, the benchmark suite (the paper-size model
# included), PyTorch's figures for the same shapes, then the test suite; everything is logged under $OUT.
#
# Here, once per session, after `npm ci`:
#   ../shared/tools/gpu-bundle.sh && bash scripts/gpu-check.sh --pack
# (--pack adds the GL dispatch libraries that NVIDIA's Vulkan driver needs beside the loader: without them Dawn
# finds no adapter and everything silently runs on the cpu device.) Then call the device tool with carry [".gpu"]
# and the command `bash scripts/gpu-check.sh` (about 3 minutes on an H200; give it timeout_s 400).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--pack" ]; then
  lists=$(mktemp -d); mkdir -p "$lists/partial"
  o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
  apt-get $o update -qq >/dev/null 2>&1
  (cd .gpu/debs && apt-get $o download -qq libglvnd0 libglx0 libgl1 libegl1 libopengl0 libgles2 >/dev/null 2>&1)
  ls .gpu/debs
  exit 0
fi
: "${OUT:?run this on the device machine (it writes its logs under \$OUT)}"
. .gpu/prelude.sh
nvidia-smi -L || true
timeout 40 node bin/fianet.mjs doctor > "$OUT/doctor.txt" 2>&1
grep -E "^adapter|subgroup size|kernel variants|ok |FAIL" "$OUT/doctor.txt"
if ! grep -q "^adapter:" "$OUT/doctor.txt"; then echo "no WebGPU adapter: see $OUT/doctor.txt"; exit 1; fi
timeout 200 node bin/fianet.mjs bench --all --json 2>&1 | tee "$OUT/bench.jsonl" | cut -c1-240
timeout 60 python3 bench/torch_reference.py > "$OUT/torch.jsonl" 2>&1
timeout 240 node scripts/test.mjs > "$OUT/tests.log" 2>&1
echo "tests rc=$?"
grep -E "FAIL|passed, " "$OUT/tests.log" | sed 's/\x1b\[[0-9;]*m//g' | tail -20
