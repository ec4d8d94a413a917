#!/bin/sh
# A batch is stored whole or not at all: `tayori submit` is killed (-9) at
# different moments while it signs and stores; afterwards every batch tayori
# shows is complete, and the parts of the killed one are swept away by the
# next run (no orphan PDF stays in the store).
. "$(dirname "$0")/lib.sh"
D=$T/var
"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
sed -i 's/^#syslog = .*/syslog = no/' "$D/tayori.conf"
sh "$TOP/tests/bench/gen-corpus" "$T/batch" 150 >/dev/null 2>&1 || { fail "corpus"; done_testing; exit 1; }

pdf_entries() { mdb_stat -s pdfs "$D/db" | sed -n 's/^ *Entries: //p'; }
signed_total() { "$TAYORI" batch list -d "$D" --json | grep -o '"signed":[0-9]*' | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }'; }

for delay in 0.3 0.8 1.5 3; do
	"$TAYORI" submit -d "$D" --again "$T/batch" >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# --again: a run that completed took the folder (the next one is a new batch)
	# the keys child follows its parent (PR_SET_PDEATHSIG)
	wait_for 5 sh -c "! pgrep -f 'tayori submit -d $D' >/dev/null"
	# the next run sweeps what the killed one left
	check_status 0 "a run after a kill at ${delay}s works (and sweeps)" \
		"$TAYORI" submit -d "$D" --dry-run --again "$T/batch"
	check "after a kill at ${delay}s only complete batches hold PDFs" \
		sh -c "[ \"\$(mdb_stat -s pdfs '$D/db' | sed -n 's/^ *Entries: //p')\" = \"\$('$TAYORI' batch list -d '$D' --json | grep -o '\"signed\":[0-9]*' | cut -d: -f2 | awk '{ s += \$1 } END { print s + 0 }')\" ]"
	check "after a kill at ${delay}s every listed batch has all its PDFs" \
		sh -c "'$TAYORI' batch list -d '$D' --json | grep -o '\"matched\":[0-9]*,\"signed\":[0-9]*' | awk -F'[:,]' '\$2 != \$4 { bad = 1 } END { exit bad }'"
done
check_status 0 "the audit log is intact after the kills" "$TAYORI" audit verify -d "$D"
echo "# $(pdf_entries) PDFs stored, $(signed_total) signed in listed batches"
done_testing
