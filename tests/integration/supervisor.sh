#!/bin/sh
# `tayori run`: one process per role, key files out of reach of all but keys,
# least privilege (service user, no capabilities, seccomp, no core dumps),
# restarts with back-off, reload on SIGHUP, clean stop on SIGTERM, and both
# portal listeners answering on loopback.
. "$(dirname "$0")/lib.sh"
D=$T/var
P1=$((20000 + $$ % 20000)); P2=$((P1 + 1)); P3=$((P1 + 2))
"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s/^#syslog = .*/syslog = no/" "$D/tayori.conf"

# Each role tries the calls it must not be able to make and logs the result.
TAYORI_TEST_SYSCALLS=1 "$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill -9 $SUP; pkill -9 -P $SUP"
role_pid() { ps -o pid= -o comm= --ppid "$SUP" | awk -v r="tayori-$1" '$2 == r { print $1 }'; }
all_up() { for r in keys gateway mailer portal; do [ -n "$(role_pid $r)" ] || return 1; done; }

check "the resident portal answers" wait_for 10 curl -fsS "http://127.0.0.1:$P1/healthz"
check "the staff dashboard answers" wait_for 10 curl -fsS "http://127.0.0.1:$P2/healthz"
check "all four roles run as separate processes" wait_for 5 all_up
check "each role has its own pid" sh -c "[ \$(ps -o pid= --ppid $SUP | wc -l) -eq 4 ]"

curl -si "http://127.0.0.1:$P1/" > "$T/page"
check "the resident page is Japanese" grep -q "オンライン通知" "$T/page"
check "it carries a strict CSP" grep -qi "^Content-Security-Policy: default-src 'none'" "$T/page"
check "it forbids framing" grep -qi "^X-Frame-Options: DENY" "$T/page"
check "an unknown path is 404" sh -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$P1/nope | grep -qx 404"
check "POST is refused with 405" sh -c "curl -s -o /dev/null -w '%{http_code}' -d x=1 http://127.0.0.1:$P2/ | grep -qx 405"

# Key files: only the keys role may read them.  Each other role checks it
# cannot open the tenant key after confining itself, and refuses to run if
# it can; the keys role is the only one holding no database.
for r in gateway mailer portal; do
	check "$r confirmed the key files are unreadable" grep -q "role=$r .*key_files=unreadable" "$T/run.log"
	pid=$(role_pid $r)
	check "$r holds no descriptor on the key folder" sh -c "! ls -l /proc/$pid/fd 2>/dev/null | grep -q '/keys/'"
done

# Least privilege, read from /proc and from calls the roles really tried.
status_of() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }
ROOT=no; [ "$(id -u)" = 0 ] && ROOT=yes
for r in keys gateway mailer portal; do
	pid=$(role_pid $r)
	check "$r runs under a seccomp filter" sh -c "[ \"\$(sed -n 's/^Seccomp:[[:space:]]*//p' /proc/$pid/status)\" = 2 ]"
	check "$r runs with no_new_privs" grep -q "NoNewPrivs:[[:space:]]*1" "/proc/$pid/status"
	check "$r may write no core file (RLIMIT_CORE 0)" sh -c "grep '^Max core file size' /proc/$pid/limits | awk '{ exit !(\$5 == 0 && \$6 == 0) }'"
	check "$r is not dumpable (its /proc files belong to root, not to its user)" sh -c "[ \"\$(stat -c %u /proc/$pid/mem)\" = 0 ]"
	if [ $ROOT = yes ]; then
		uids=$(status_of "$pid" Uid); gids=$(status_of "$pid" Gid)
		check "$r started by root runs as another user ($uids)" sh -c "echo '$uids' | awk '{ exit !(\$1 != 0 && \$1 == \$2 && \$2 == \$3 && \$3 == \$4) }'"
		check "$r started by root runs in another group ($gids)" sh -c "echo '$gids' | awk '{ exit !(\$1 != 0 && \$1 == \$2 && \$2 == \$3 && \$3 == \$4) }'"
		check "$r has no supplementary groups" sh -c "[ -z \"\$(sed -n 's/^Groups:[[:space:]]*//p' /proc/$pid/status | tr -d ' ')\" ]"
		for c in CapInh CapPrm CapEff CapBnd CapAmb; do
			check "$r has no capabilities ($c 0)" grep -q "^$c:[[:space:]]*0000000000000000$" "/proc/$pid/status"
		done
		check "$r is not dumpable although it is not root" sh -c "[ \"\$(stat -c %u /proc/$pid/mem)\" = 0 ] && [ \"\$(stat -c %u /proc/$pid/mem)\" != '$(echo $uids | cut -d' ' -f1)' ]"
	fi
done
check "the supervisor, whose environment may hold the PIN, writes no core file either" sh -c "grep '^Max core file size' /proc/$SUP/limits | awk '{ exit !(\$5 == 0 && \$6 == 0) }'"
if [ $ROOT = yes ]; then
	check "the data folder is given to the service user" sh -c "[ \"\$(stat -c %u '$D/db/data.mdb')\" = \"\$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\\1/p' /proc/$(role_pid gateway)/status)\" ]"
	check "... keys/ included, still closed to others (0700)" sh -c "[ \"\$(stat -c %a '$D/keys')\" = 700 ]"
fi
# The calls each role tried after confining itself (TAYORI_TEST_SYSCALLS).
tried() { grep -q "role=$1 .*event=syscall_test role=$1 call=$2 result=$3 " "$T/run.log"; }
for r in portal keys; do
	for c in tcp udp udp6 icmp raw packet netlink unix_stream socketpair unshare_user; do
		check "$r: socket/namespace call $c is refused" tried $r $c refused
	done
done
for r in gateway mailer; do
	for c in icmp raw packet netlink unix_stream socketpair unshare_user; do
		check "$r: call $c is refused" tried $r $c refused
	done
	check "$r: TCP is allowed (IMAP, SMTP, TSA)" tried $r tcp allowed
	check "$r: UDP is allowed (DNS lookups of the servers' names)" tried $r udp allowed
done
check "the portal refuses UDP with EPERM (seccomp, not a missing capability)" grep -q "role=portal .*call=udp result=refused errno=1$" "$T/run.log"
check "the portal still serves after its sockets are refused" curl -fsS "http://127.0.0.1:$P1/healthz"

KP=$(role_pid keys)
check "keys holds no database" sh -c "! ls -l /proc/$KP/fd | grep -q 'data.mdb'"
check "keys is not dumpable (no ptrace, no /proc/PID/mem by peers)" sh -c "! grep -q tenant.key /proc/$KP/maps 2>/dev/null && [ \"\$(stat -c %U /proc/$KP/mem)\" = root ]"
check "keys has no TCP (sandbox net=restricted)" grep -q "role=keys .*net=restricted" "$T/run.log"

# Restart a role that dies.
G1=$(role_pid gateway)
kill -9 "$G1"
check "a killed gateway comes back" wait_for 10 sh -c "p=\$(ps -o pid= -o comm= --ppid $SUP | awk '\$2==\"tayori-gateway\"{print \$1}'); [ -n \"\$p\" ] && [ \"\$p\" != $G1 ]"
check "the death is logged as unexpected" grep -q "role=gateway .*unexpected=yes" "$T/run.log"
K1=$(role_pid keys)
kill -9 "$K1"
check "a killed keys process comes back, with its clients" wait_for 15 sh -c "grep -c 'role=keys level=info event=ready' '$T/run.log' | grep -qx 2"
check "... and the portal answers again" wait_for 15 curl -fsS "http://127.0.0.1:$P1/healthz"

# Reload: a broken config is refused and the service goes on.
cp "$D/tayori.conf" "$T/good.conf"
echo "bogus line" >> "$D/tayori.conf"
kill -HUP "$SUP"
check "a broken config on SIGHUP is refused" wait_for 5 grep -q "event=reload_refused" "$T/run.log"
check "... and the portal still answers" curl -fsS "http://127.0.0.1:$P1/healthz"
sed "s/^staff_listen = .*/staff_listen = 127.0.0.1:$P3/" "$T/good.conf" > "$D/tayori.conf"
kill -HUP "$SUP"
check "a good config on SIGHUP is applied (staff moves to a new port)" wait_for 10 curl -fsS "http://127.0.0.1:$P3/healthz"
check "... and the old staff port is closed" wait_for 5 sh -c "! curl -fsS http://127.0.0.1:$P2/healthz"

# A role that cannot be confined as configured refuses to run: give the
# gateway the data folder itself as its inbox, which would expose keys/.
cp "$D/tayori.conf" "$T/good2.conf"
# let the gateway of the last reload settle before counting its starts
wait_for 30 sh -c "grep 'role=gateway level=info' '$T/run.log' | tail -1 | grep -q 'event=ready'"
READY=$(grep -c 'role=gateway level=info event=ready' "$T/run.log")
sed -i "s|^#inbox = .*|inbox = .|" "$D/tayori.conf"
kill -HUP "$SUP"
check "a gateway that could read the key files refuses to start" wait_for 10 grep -q "role=gateway .*readable from this process" "$T/run.log"
check "... and never got as far as ready" sh -c "[ \$(grep -c 'role=gateway level=info event=ready' '$T/run.log') -eq $READY ]"
cp "$T/good2.conf" "$D/tayori.conf"
kill -HUP "$SUP"
check "with the inbox moved back, the gateway starts again" wait_for 30 sh -c "[ \$(grep -c 'role=gateway level=info event=ready' '$T/run.log') -gt $READY ]"

# Stop: everything ends within 5 seconds of SIGTERM.
PIDS=$(ps -o pid= --ppid "$SUP" | tr '\n' ' ')
kill -TERM "$SUP"
check "SIGTERM stops the supervisor within 5 s" wait_for 5 sh -c "! kill -0 $SUP 2>/dev/null"
check "... and every role with it" sh -c "for p in $PIDS; do kill -0 \$p 2>/dev/null && exit 1; done; exit 0"
check "the stop is logged" grep -q "event=stopped" "$T/run.log"

# A command run as root on the tenant gives back what it created: the LMDB
# lock file it makes afresh belongs to the service user afterwards.
if [ $ROOT = yes ]; then
	SVC=$(stat -c %u "$D/db/data.mdb")
	rm -f "$D/db/lock.mdb"
	check "a command run as root still works on the service's tenant" "$TAYORI" batch list -d "$D"
	check "... and leaves the files it made to the service user" sh -c "[ \"\$(stat -c %u '$D/db/lock.mdb')\" = $SVC ] && [ $SVC != 0 ]"
	mkdir -m 700 "$T/closed"
	"$TAYORI" init -d "$T/closed/t" >/dev/null 2>&1
	check_status 1 "a tenant its service user cannot reach is refused at start" "$TAYORI" run -d "$T/closed/t"
	check "... naming the path to open up" grep -q "cannot use $T/closed/t/db/data.mdb" "$T/last"
	printf '[security]\nuser = root\n' >> "$D/tayori.conf"
	check_status 1 "[security] user = root is refused at start" "$TAYORI" run -d "$D"
	check "... naming the setting" grep -q "\[security\] user: root is root" "$T/last"
fi
done_testing
