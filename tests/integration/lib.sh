# tests/integration/lib.sh — the few helpers every integration test uses.
# Source it after setting nothing: it reads TAYORI (the binary under test,
# default ./tayori), makes a scratch directory $T removed on exit, and
# prints one "ok - ..." or "not ok - ..." line per check (TAP style), which
# tests/run-all counts.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
TAYORI=${TAYORI:-$TOP/tayori}
T=$(mktemp -d /tmp/tayori-test.XXXXXX)
# Run as root, `tayori run` gives its roles to an unprivileged user, who must
# be able to pass through $T to reach the tenants made in it (not list it).
chmod 711 "$T"
_npass=0
_nfail=0
_cleanups=""
at_exit() { _cleanups="$* ; $_cleanups"; }
_finish() {
	eval "$_cleanups" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap _finish EXIT

ok()   { _npass=$((_npass + 1)); echo "ok - $*"; }
fail() { _nfail=$((_nfail + 1)); echo "not ok - $*"; }
# check DESC CMD... : passes when CMD exits 0
check() { d=$1; shift; if "$@" >"$T/.out" 2>&1; then ok "$d"; else fail "$d"; sed 's/^/#   /' "$T/.out" | head -20; fi; }
# check_status STATUS DESC CMD... : passes when CMD exits with STATUS; its
# output stays in $T/last for the checks that follow
check_status() { want=$1; d=$2; shift 2; "$@" >"$T/last" 2>&1; got=$?; cp "$T/last" "$T/.out"; if [ "$got" = "$want" ]; then ok "$d"; else fail "$d (exit $got, wanted $want)"; sed 's/^/#   /' "$T/.out" | head -20; fi; }
# wait_for SECONDS CMD... : polls CMD every 0.1 s until it succeeds
wait_for() { n=$(($1 * 10)); shift; while [ $n -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done; return 1; }
# jtrue DESC FILE EXPR: passes when the Python expression EXPR is true of d,
# the JSON object in FILE.
jtrue() {
	_d=$1; _f=$2; _x=$3
	if /usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$_f" "$_x" >"$T/.j" 2>&1; then
		ok "$_d"
	else
		fail "$_d"; echo "#   wanted: $_x"; sed 's/^/#   got: /' "$_f" | head -5; sed 's/^/#   /' "$T/.j" | head -5
	fi
}
# jval FILE EXPR: prints the value of EXPR over d
jval() { /usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
done_testing() { echo "# $_npass passed, $_nfail failed"; [ "$_nfail" -eq 0 ]; }
