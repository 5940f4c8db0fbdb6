#!/usr/bin/env bash
# Run-to-run spread of the quick comparison: N quick runs (default 3), each from a fresh clone of this
# checkout's HEAD (its own .venv, data and engine sessions, as a new user gets them), one after another,
# one results file each, copied to OUT as repeat-<i>.json. Resumable: a run whose file is already in OUT is
# skipped. Measure on a quiet machine: each run waits (up to 10 minutes) for the 1-minute load average to
# fall below 0.5, and nothing else should run until the script ends. Afterwards
#   ./enginebench report OUT/repeat-1.json OUT/repeat-2.json OUT/repeat-3.json
# marks every case whose median moved more than 1.3x between the runs as unstable, with its spread.
#
#   bash benchmarks/repeatability.sh [OUT (default docs/results)] [N (default 3)] [-- extra `run` flags]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$(realpath -m "${1:-$here/docs/results}")"
n="${2:-3}"
shift $(( $# > 2 ? 2 : $# ))
[[ "${1:-}" == "--" ]] && shift
mkdir -p "$out"
commit="$(git -C "$here" rev-parse HEAD)"
work="$(mktemp -d "${TMPDIR:-/tmp}/enginebench-repeat.XXXXXX")"
# shellcheck source=benchmarks/quiet.sh
source "$here/benchmarks/quiet.sh"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM  # through the EXIT trap: the clones go too
for i in $(seq 1 "$n"); do
  dest="$out/repeat-$i.json"
  if [[ -f "$dest" ]]; then
    echo "run $i of $n: $dest exists, skipped"
    continue
  fi
  # Quiet before each run: the load average left by the previous run decays in a minute or two.
  if ! wait_for_quiet; then
    echo "error: the machine stayed busy for 10 minutes (1-minute load average $load, accepted: below 0.5);" \
         "run $i was not started" >&2
    exit 1
  fi
  clone="$work/clone-$i"
  git clone -q "$here" "$clone"
  git -C "$clone" checkout -q "$commit"
  echo "run $i of $n: fresh clone of ${commit:0:7} in $clone (load average $load)"
  start=$(date +%s)
  # Exit code 1 means some case failed or was checked wrong: that is a result too, kept in the file.
  (cd "$clone" && ./enginebench run --out "$clone/results" --no-report "$@") || [[ $? -eq 1 ]]
  cp "$(ls -t "$clone"/results/*.json | head -1)" "$dest"
  echo "run $i of $n: $(( $(date +%s) - start )) s including the clone's install -> $dest"
  rm -rf "$clone"
done
