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

# --- The dashboard suites' set-up: a demo tenant run by `tayori run`, its
# staff, and curl as a browser.  A suite sets D (the tenant's folder) first
# and may define any of these again after sourcing, to differ.

# need_tools TOOL...: the suite fails at once, saying which, when one is missing
need_tools() {
	for _tool in "$@"; do
		command -v "$_tool" >/dev/null 2>&1 || { fail "the test needs $_tool"; done_testing; exit 1; }
	done
}
# demo_ports OFFSET [SPREAD]: P1 (resident listener) and P2 (staff) from the
# pid, so suites run side by side; R and U are their URLs.  SPREAD 12000
# keeps them below the ephemeral ports (32768-).
demo_ports() {
	P1=$((20000 + ($$ + $1) % ${2:-12000})); P2=$((P1 + 1))
	U=http://127.0.0.1:$P2
	R=http://127.0.0.1:$P1
}
# demo_tenant [SED-EXPR...]: `tayori init --demo` in $D, listening on P1 and
# P2 with public_url R and no syslog, then each SED-EXPR applied to its
# tayori.conf (to set what the suite needs)
demo_tenant() {
	"$TAYORI" init -d "$D" --demo || return 1
	_n=$#
	for _e; do set -- "$@" -e "$_e"; done
	shift "$_n"
	sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
	       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
	       -e "s|^#public_url = .*|public_url = $R|" \
	       -e "s/^#syslog = .*/syslog = no/" "$@" "$D/tayori.conf"
}
# staff_user LOGIN ROLE [ARGS...]: a staff account LOGIN@ward.example.jp
# with the password in $PW (ARGS go to `tayori user add`, e.g. --name)
staff_user() {
	_l=$1; _r=$2; shift 2
	"$TAYORI" user add "$_l" -d "$D" --email "$_l@ward.example.jp" --role "$_r" --password-env PW "$@"
}
# staff_without LOGIN PERMISSION: a clerk with PERMISSION revoked
staff_without() { staff_user "$1" clerk && "$TAYORI" user role "$1" --revoke "$2" -d "$D"; }
# staff_otp LOGIN ROLE [ARGS...]: an account given a one-time password,
# which is left in OTP (empty when none was printed)
staff_otp() {
	_l=$1; _r=$2; shift 2
	"$TAYORI" user add "$_l" -d "$D" --email "$_l@ward.example.jp" --role "$_r" "$@" >"$T/$_l.out" 2>&1
	OTP=$(grep -oE '[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}' "$T/$_l.out" | head -1)
}
# uid LOGIN: the account's id, as the audit log names it (staff:ID)
uid() { "$TAYORI" user list -d "$D" --json | /usr/bin/python3 -c 'import json, sys
for u in json.load(sys.stdin)["users"]:
    if u["login"] == sys.argv[1]: print(u["id"])' "$1"; }
# corpus NAME COUNT: a generated batch of COUNT residents in $T/NAME
# (corpus.csv in CP932, corpus.pdf); the suite stops when it cannot be made
corpus() {
	sh "$TOP/tests/bench/gen-corpus" "$T/$1" "$2" >/dev/null 2>&1 || { fail "gen-corpus"; done_testing; exit 1; }
}
# status BATCH: the batch's status, as `tayori batch show` says
status() { "$TAYORI" batch show "$1" -d "$D" --json | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["summary"]["status"])'; }
# audit: the audit log, read back into $T/audit.json
audit() { "$TAYORI" audit show -d "$D" --json >"$T/audit.json" 2>"$T/audit.err"; }
# has_audit ACTION ACTOR TARGET DETAIL-PART: such a record exists (an empty
# ACTOR or TARGET matches any)
has_audit() {
	audit && /usr/bin/python3 - "$T/audit.json" "$@" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
recs = d["records"] if isinstance(d, dict) else d
act, actor, target, part = sys.argv[2:6]
sys.exit(0 if any(r["action"] == act and (not actor or r["actor"] == actor) and
                  (not target or r["target"] == target) and part in r["detail"] for r in recs) else 1)
PYEOF
}
# naudit ACTION: how many records of ACTION the audit log holds
naudit() { audit && /usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); recs = d["records"] if isinstance(d, dict) else d
print(sum(1 for r in recs if r["action"] == sys.argv[2]))' "$T/audit.json" "$1"; }
# demo_run [SECONDS]: `tayori run` on $D (log in $T/run.log, pid in SUP,
# stopped at exit), checked by the staff listener's answer
demo_run() {
	"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
	SUP=$!
	at_exit "kill $SUP"
	check "the staff listener answers" wait_for "${1:-15}" curl -fsS "$U/healthz"
}
# req NAME ARGS...: curl with NAME's cookie jar; headers in $T/h, body in $T/b
req() { _j=$T/jar.$1; shift; curl -s -b "$_j" -c "$_j" -D "$T/h" -o "$T/b" "$@"; }
# code, location, csrf: the last answer's status, Location and form token
code() { sed -n '1s/^HTTP\/1.1 \([0-9]*\).*/\1/p' "$T/h"; }
location() { sed -n 's/^[Ll]ocation: *\([^\r]*\).*/\1/p' "$T/h"; }
csrf() { sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/b" | head -1; }
# login NAME LOGIN [PASSWORD]: the login form, then its POST (PASSWORD: $PW)
login() {
	req "$1" "$U/login"; _c=$(csrf)
	req "$1" --data-urlencode "csrf=$_c" --data-urlencode "login=$2" --data-urlencode "password=${3:-$PW}" "$U/login"
}
# browser_setup NAME: the browser suites' start: skipped without Chromium,
# failed without the driver's npm packages; screenshots NAME-*.png in SHOTS
# (old ones removed), a fresh HOME for Chromium's profile; browse runs the
# driver (tests/browser/run.js) with the steps given
browser_setup() {
	CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
	if [ ! -x "$CHROMIUM" ]; then
		echo "# skip: $CHROMIUM is not installed (contrib/install-deps --test installs chromium)"
		done_testing; exit 0
	fi
	DRIVER=$TOP/tests/browser/run.js
	if [ ! -d "$TOP/tests/browser/node_modules/playwright-core" ] || [ ! -d "$TOP/tests/browser/node_modules/axe-core" ]; then
		fail "the browser driver's npm packages are installed (run: npm ci --prefix tests/browser)"
		done_testing; exit 1
	fi
	BROWSE_NAME=$1
	SHOTS=${ARTEFACTS:-$TOP/build/artefacts}/screenshots
	mkdir -p "$SHOTS"
	rm -f "$SHOTS/$1"-*.png
	HOME=$T/home; export HOME; mkdir -p "$HOME"
}
browse() { node "$DRIVER" --out "$SHOTS" --name "$BROWSE_NAME" "$@"; }
