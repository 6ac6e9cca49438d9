#!/usr/bin/env bash
# Run the whole suite on SQLite, PostgreSQL and MariaDB side by side; fail if any run fails
# (pytest's "no tests collected", exit status 5, is a failure too).
set -uo pipefail
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
declare -A pids
for backend in sqlite postgresql mysql; do
  # The browser tests run once, on SQLite, after these runs (below).
  .venv/bin/pytest --db "$backend" -p no:cacheprovider --ignore=tests/web "$@" \
    >"$logs/$backend.log" 2>&1 &
  pids[$backend]=$!
done
failed=()
for backend in sqlite postgresql mysql; do
  wait "${pids[$backend]}"
  code=$?
  echo "==================== $backend (exit $code) ===================="
  tail -n 60 "$logs/$backend.log"
  [ "$code" -eq 0 ] || failed+=("$backend (exit $code)")
done
# The web app in Debian's chromium against the real service on SQLite (frontend/dist must be
# built: `make test` builds it). Alone, so the browser is not starved by the three runs above.
.venv/bin/pytest --db sqlite -p no:cacheprovider tests/web >"$logs/web.log" 2>&1
code=$?
echo "==================== web (exit $code) ===================="
tail -n 60 "$logs/web.log"
[ "$code" -eq 0 ] || failed+=("web (exit $code)")
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-all: failed on: ${failed[*]}" >&2
  exit 1
fi
echo "test-all: passed on sqlite, postgresql and mysql, and the web app in chromium"
