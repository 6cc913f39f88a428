#!/usr/bin/env bash
# Fresh-machine proof on a machine that already has a working tree: clone the committed
# course (HEAD, nothing untracked, no .venv) into a temporary folder and run CI there, which
# follows the README's two commands literally (python3 course.py test; python3 course.py lab
# until the server is ready). CI itself already starts from a clean checkout, so it runs
# .ci/run directly; this script is for maintainers who want the same proof locally.
#
#     tools/fresh_clone.sh            # the clone is deleted afterwards
#     KEEP=1 tools/fresh_clone.sh     # keep it (its path is printed)
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/course-fresh-XXXXXX")
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$tmp"' EXIT
git clone --quiet --no-hardlinks "$src" "$tmp/course"
echo "== fresh clone of $(git -C "$src" rev-parse --short HEAD) in $tmp/course"
if [ -n "$(git -C "$src" status --porcelain --untracked-files=no)" ]; then
  echo "note: uncommitted changes in $src are not part of this run"
fi
# CI services set CI (pytest, for one, then prints its summary lines in full): so does this.
CI="${CI:-true}" "$tmp/course/.ci/run"
