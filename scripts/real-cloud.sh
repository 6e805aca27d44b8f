#!/usr/bin/env bash
# The end-to-end tier against a real OpenStack (test/real/*.test.ts), run with the built dist/,
# and the contract suite (test/contract/*.test.ts) against the same cloud (OSA_CONTRACT_TARGET=real).
#
#   scripts/real-cloud.sh [test files...]      (default: test/real/*.test.ts test/contract/*.test.ts)
#
# Which cloud:
#   - OS_AUTH_URL set to anything but the loopback's (127.0.0.1:5000): that cloud, from the OS_*
#     variables plus OSA_E2E_INSTANCE etc. (see test/support/real-cloud.ts). Nothing is started or stopped.
#   - otherwise the loopback cloud of ../shared/openstack-loopback (beside the repository; OSL_DIR
#     overrides): started with its start.sh (idempotent), stopped with its stop.sh at the end,
#     whatever the tests did. A cloud that was already running when this script began is left
#     running (other people may be using it) unless OSA_REAL_STOP=1; OSA_REAL_KEEP=1 never stops it.
#
# When the loopback cloud cannot be started (no shared dir, not root, start.sh failed) the tier
# is SKIPPED with the reason and the script exits 0, except with CI=true, where it FAILS (exit 1).
# Otherwise it exits with the tests' status.
#
# Other knobs: OSA_REAL_BUILD=0 (do not rebuild dist/), OSA_REAL_PAGES=0|1 (the >1000-image
# pagination test; on by default on the loopback cloud, opt-in elsewhere), OSA_REAL_NO_KNOB=1
# (no nova-compute restarts for the never-finishing snapshot test).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT" || exit 1
NODE=$ROOT/node_modules/.bin/node
OSL=${OSL:-/tmp/osl}
START_LOG=${TMPDIR:-/tmp}/osa-real-cloud-start.log
T0=$SECONDS

say() { echo "real-cloud: $*"; }
skip() {
  if [ "${CI:-}" = true ]; then
    say "FAILED: the real-cloud tier cannot run: $1 (CI=true: it may not be skipped)"
    exit 1
  fi
  say "SKIPPED: the real-cloud tier did not run: $1"
  exit 0
}

[ -x "$NODE" ] || skip "$NODE is missing (run npm ci)"

loopback=1
if [ -n "${OS_AUTH_URL:-}" ] && ! [[ "$OS_AUTH_URL" =~ ^https?://(127\.0\.0\.1|localhost):5000(/v3)?/?$ ]]; then loopback=0; fi

keystone_up() { "$NODE" -e "fetch('http://127.0.0.1:5000/v3',{signal:AbortSignal.timeout(3000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; }

# The snapshot mode a region's nova-compute runs in (the tier switches SBG5's and back; a killed
# run could leave it switched).
compute_mode() {
  local pid
  pid=$(cat "$OSL/run/nova-compute-$1.pid" 2>/dev/null) || return 0
  tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^OSL_SNAPSHOT_MODE=//p'
}

started_here=0
finish() {
  local status=$?
  trap - EXIT INT TERM
  if [ $loopback = 1 ] && [ -n "${OSL_DIR:-}" ]; then
    if [ "${OSA_REAL_KEEP:-}" = 1 ] || { [ $started_here = 0 ] && [ "${OSA_REAL_STOP:-}" != 1 ]; }; then
      local queued=()
      for r in gra7 sbg5; do [ "$(compute_mode $r)" = queued ] && queued+=("nova-compute-$r"); done
      if [ ${#queued[@]} -gt 0 ]; then
        say "restoring ${queued[*]} to the default snapshot mode"
        (cd "$OSL_DIR" && ./stop.sh "${queued[@]}" && ./start.sh) >>"$START_LOG" 2>&1 || say "could not restore ${queued[*]} (see $START_LOG)"
      fi
      say "leaving the loopback cloud running ($([ "${OSA_REAL_KEEP:-}" = 1 ] && echo OSA_REAL_KEEP=1 || echo 'it was running before'); stop it with $OSL_DIR/stop.sh)"
    else
      say "stopping the loopback cloud"
      (cd "$OSL_DIR" && ./stop.sh) >>"$START_LOG" 2>&1 || say "stop.sh failed (see $START_LOG)"
    fi
  fi
  say "done in $((SECONDS - T0)) s, exit $status"
  exit $status
}

if [ $loopback = 1 ]; then
  OSL_DIR=${OSL_DIR:-$ROOT/../shared/openstack-loopback}
  if [ ! -x "$OSL_DIR/start.sh" ]; then
    OSL_DIR=
    skip "no loopback cloud: $ROOT/../shared/openstack-loopback/start.sh not found (set OSL_DIR, or OS_* for another cloud)"
  fi
  OSL_DIR=$(cd "$OSL_DIR" && pwd -P)
  export OSL_DIR
  trap finish EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  keystone_up || started_here=1
  say "starting the loopback cloud ($OSL_DIR/start.sh, log $START_LOG)"
  t=$SECONDS
  if ! (cd "$OSL_DIR" && ./start.sh) >"$START_LOG" 2>&1; then
    trap - EXIT
    tail -25 "$START_LOG" | sed 's/^/  | /'
    # Whatever start.sh managed to start before it failed goes again (not a cloud others were using).
    if [ $started_here = 1 ] && [ "${OSA_REAL_KEEP:-}" != 1 ]; then (cd "$OSL_DIR" && ./stop.sh) >>"$START_LOG" 2>&1; fi
    skip "the loopback cloud did not start (see $START_LOG)"
  fi
  say "loopback cloud up in $((SECONDS - t)) s"
  export OSA_REAL_PAGES=${OSA_REAL_PAGES:-1}
else
  say "cloud from OS_AUTH_URL=$OS_AUTH_URL (region ${OS_REGION_NAME:-?}); nothing is started or stopped"
fi

if [ "${OSA_REAL_BUILD:-1}" != 0 ]; then
  say "building dist/"
  npm run -s build >/dev/null || { say "npm run build failed"; exit 1; }
fi

files=("$@")
[ ${#files[@]} -gt 0 ] || files=(test/real/*.test.ts test/contract/*.test.ts)
export OSA_CONTRACT_TARGET=real
say "running ${files[*]}"
t=$SECONDS
"$NODE" --test --test-concurrency=1 "${files[@]}"
status=$?
say "tests finished in $((SECONDS - t)) s with status $status"
exit $status
