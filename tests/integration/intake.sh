#!/bin/sh
# The gateway's intake under `tayori run`: a folder renamed into the drop
# folder, .eml files from staff and from strangers, a Maildir, duplicates,
# the gateway killed in the middle of a batch, and killed twice by one
# input (a poison input).  Each input becomes exactly one batch, and is
# deleted only after: no clear copy of it stays in the inbox or the
# Maildir; a refused one is kept sealed in the store for keep_rejected days.
. "$(dirname "$0")/lib.sh"
D=$T/var
P1=$((20000 + $$ % 20000)); P2=$((P1 + 1))
"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s/^#syslog = .*/syslog = no/" \
       -e "s|^#maildir = .*|maildir = mail/intake|" \
       -e "s|^#trusted_authserv = .*|trusted_authserv = mx.city.example.jp|" "$D/tayori.conf"
export PW=a-long-staff-password
"$TAYORI" user add sato -d "$D" --email Sato@City.Example.jp --password-env PW >/dev/null 2>&1
"$TAYORI" user add yamada -d "$D" --email yamada@city.example.jp --role clerk --revoke submit \
	--password-env PW >/dev/null 2>&1
sh "$TOP/tests/bench/gen-corpus" "$T/c" 12 >/dev/null 2>&1
sh "$TOP/tests/bench/gen-corpus" "$T/big" 1000 >/dev/null 2>&1
mkdir -p "$T/stage"

# eml FROM SUBJECT OUT [pdf|nopdf] [big]: an Outlook-like message with the corpus attached
eml() {
	{
		printf 'From: =?ISO-2022-JP?B?GyRCOjRGIxsoQg==?= <%s>\r\nTo: intake@city.example.jp\r\n' "$1"
		printf 'Subject: =?UTF-8?B?%s?=\r\nMessage-ID: <%s@city.example.jp>\r\n' "$(printf '%s' "$2" | base64 -w0)" "$(basename "$3")"
		printf 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
		printf -- '--b1\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n区民の皆さまへ\r\n\r\n'
		printf -- '--b1\r\nContent-Type: application/vnd.ms-excel; name="list.csv"\r\nContent-Disposition: attachment; filename="list.csv"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
		base64 "$T/${5:-c}/corpus.csv" | sed 's/$/\r/'
		if [ "${4:-pdf}" = pdf ]; then
			printf -- '--b1\r\nContent-Type: application/pdf; name="notices.pdf"\r\nContent-Disposition: attachment; filename="notices.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
			base64 "$T/${5:-c}/corpus.pdf" | sed 's/$/\r/'
		fi
		printf -- '--b1--\r\n'
	} > "$3"
}
# Folders dropped by root must be given to the service user, which `tayori
# run` started as root becomes: it moves them out of the inbox afterwards.
own() { [ "$(id -u)" != 0 ] || chown -R --reference="$D/inbox" "$1"; }
batches() { "$TAYORI" batch list -d "$D" --json | grep -o '"batch":' | wc -l; }
kept() { mdb_stat -s rejected "$D/db" | sed -n 's/^ *Entries: //p'; }
# nothing of the inputs is left in clear where they arrived
no_clear_copy() { [ -z "$(find "$D/inbox" "$D/mail/intake" -type f 2>/dev/null)" ]; }
replies() { ls "$D/mail/outbox/new" 2>/dev/null | wc -l; }

# plain copies an earlier version kept go at start
mkdir -p "$D/inbox/.processed/old" "$D/mail/intake/.Rejected/cur"
cp "$T/c/corpus.csv" "$D/inbox/.processed/old/" && cp "$T/c/corpus.csv" "$D/mail/intake/.Rejected/cur/1.x"
"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP; pkill -9 -P $SUP"
check "the gateway is ready" wait_for 15 grep -q "role=gateway .*event=ready" "$T/run.log"
check "plain copies kept by an earlier version are deleted at start" sh -c "[ ! -e '$D/inbox/.processed' ] && [ ! -e '$D/mail/intake/.Rejected' ]"

# 1. a folder renamed into the drop folder
mkdir "$T/stage/batch-one" && cp "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/stage/batch-one/"
own "$T/stage/batch-one"
mv "$T/stage/batch-one" "$D/inbox/"
check "a folder renamed into the inbox becomes a batch" wait_for 30 sh -c "[ \$('$TAYORI' batch list -d '$D' --json | grep -o '\"batch\":' | wc -l) -eq 1 ]"
check "... and is deleted from the inbox: no clear copy left" wait_for 5 no_clear_copy
check "... titled by the folder's name" sh -c "'$TAYORI' batch list -d '$D' | grep -q batch-one"

# 2. mail from a registered staff address (any case)
eml sato@city.example.jp "固定資産税のお知らせ" "$T/stage/m1.eml"
mv "$T/stage/m1.eml" "$D/inbox/"
check "an .eml from staff becomes a batch" wait_for 30 sh -c "[ \$('$TAYORI' batch list -d '$D' --json | grep -o '\"batch\":' | wc -l) -eq 2 ]"
check "... titled by the decoded subject" sh -c "'$TAYORI' batch list -d '$D' | grep -q 固定資産税のお知らせ"
check "... deleted from the inbox" wait_for 5 no_clear_copy
check "... and the sender gets a reply with the report" wait_for 5 sh -c "grep -l 'To: Sato@City.Example.jp\\|To: sato@city.example.jp' '$D'/mail/outbox/new/* | head -1 | grep -q ."
check "... which previews the first notices" sh -c "for f in '$D'/mail/outbox/new/*; do sed -n '/^\$/,\$p' \"\$f\" | base64 -d 2>/dev/null; done | grep -q 'preview of the first notices'"
check "... marked as an automatic reply" sh -c "grep -q '^Auto-Submitted: auto-replied' '$D'/mail/outbox/new/*"
check "the audit log names the staff member, not the address" sh -c "'$TAYORI' audit show -d '$D' | grep batch.submit | grep -q 'staff:'"

# 3. the same message again, as left over by a crash between its commit and
# its deletion: recognised by its SHA-256 and deleted, not taken again
R=$(replies)
eml sato@city.example.jp "固定資産税のお知らせ" "$T/stage/m1.eml"
mv "$T/stage/m1.eml" "$D/inbox/m1-again.eml"
check "a leftover of a committed message is deleted" wait_for 30 test ! -e "$D/inbox/m1-again.eml"
check "... and makes no second batch" sh -c "[ \$('$TAYORI' batch list -d '$D' --json | grep -o '\"batch\":' | wc -l) -eq 2 ]"
check "... and no second reply" sh -c "[ \$(ls '$D/mail/outbox/new' | wc -l) -eq $R ]"

# 4. strangers and staff without the permission: dropped, no reply (no backscatter)
eml intruder@evil.example "偽の通知" "$T/stage/m2.eml"
eml yamada@city.example.jp "権限なし" "$T/stage/m3.eml"
mv "$T/stage/m2.eml" "$T/stage/m3.eml" "$D/inbox/"
check "mail from an unknown sender is deleted" wait_for 30 test ! -e "$D/inbox/m2.eml"
check "mail from staff without submit is deleted" wait_for 30 test ! -e "$D/inbox/m3.eml"
check "... nothing of them is left in clear" no_clear_copy
check "... both are kept sealed in the store" sh -c "[ \"\$(mdb_stat -s rejected '$D/db' | sed -n 's/^ *Entries: //p')\" -eq 2 ]"
check "... no batch was made" sh -c "[ \$('$TAYORI' batch list -d '$D' --json | grep -o '\"batch\":' | wc -l) -eq 2 ]"
check "... and nobody got a reply" sh -c "[ \$(ls '$D/mail/outbox/new' | wc -l) -eq $R ]"
check "... the drops are audited without the address" sh -c "'$TAYORI' audit show -d '$D' | grep intake.drop | grep -q 'unknown sender' && ! '$TAYORI' audit show -d '$D' | grep -q evil.example"

# 4b. a forged staff address that our MTA saw fail DKIM/DMARC: dropped, no reply;
# a failure reported by someone else's header is not trusted either way
eml sato@city.example.jp "なりすまし" "$T/stage/m6.eml"
{ printf 'Authentication-Results: mx.city.example.jp;\r\n\tdkim=fail header.d=city.example.jp;\r\n\tdmarc=fail header.from=city.example.jp\r\n'; cat "$T/stage/m6.eml"; } > "$T/stage/m6x.eml"
mv "$T/stage/m6x.eml" "$D/inbox/"
check "a DKIM/DMARC failure from the trusted MTA is dropped" wait_for 30 test ! -e "$D/inbox/m6x.eml"
check "... with no batch and no reply" sh -c "[ \$('$TAYORI' batch list -d '$D' --json | grep -o '\"batch\":' | wc -l) -eq 2 ] && [ \$(ls '$D/mail/outbox/new' | wc -l) -eq $R ]"

# 5. staff forgot the PDF: refused, with a reply saying why
eml sato@city.example.jp "PDFなし" "$T/stage/m4.eml" nopdf
mv "$T/stage/m4.eml" "$D/inbox/"
check "a batch without a PDF is refused" wait_for 30 test ! -e "$D/inbox/m4.eml"
check "... with a reply that says why" wait_for 5 sh -c "for f in '$D'/mail/outbox/new/*; do sed -n '/^\$/,\$p' \"\$f\" | base64 -d 2>/dev/null; done | grep -q 'has no PDF'"

# 5b. Outlook's Rich Text format: the files arrive inside winmail.dat
{
	printf 'From: sato@city.example.jp\r\nSubject: TNEF\r\nMessage-ID: <tnef@city.example.jp>\r\n'
	printf 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="t1"\r\n\r\n'
	printf -- '--t1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nお知らせ\r\n'
	printf -- '--t1\r\nContent-Type: application/ms-tnef; name="winmail.dat"\r\nContent-Disposition: attachment; filename="winmail.dat"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
	printf '\170\237\076\042\001\000\001\220\010\000' | base64
	printf -- '--t1--\r\n'
} > "$T/stage/m7.eml"
mv "$T/stage/m7.eml" "$D/inbox/"
check "an Outlook winmail.dat batch is refused" wait_for 30 test ! -e "$D/inbox/m7.eml"
check "... with a reply telling how to send again" wait_for 5 sh -c "for f in '$D'/mail/outbox/new/*; do sed -n '/^\$/,\$p' \"\$f\" | base64 -d 2>/dev/null; done | grep -q 'winmail.dat'"

# 6. a Maildir source
eml sato@city.example.jp "Maildir経由" "$T/stage/m5.eml"
mv "$T/stage/m5.eml" "$D/mail/intake/new/1700000000.m5.host"
check "a message in the watched Maildir becomes a batch" wait_for 30 sh -c "'$TAYORI' batch list -d '$D' | grep -q Maildir経由"
check "... and is deleted from the Maildir: no clear copy left" wait_for 5 no_clear_copy
check "... no .Processed folder is made" test ! -e "$D/mail/intake/.Processed"
# the same message left over in the Maildir after a crash: deleted, no second batch
B=$(batches)
eml sato@city.example.jp "Maildir経由" "$T/stage/m5.eml"
mv "$T/stage/m5.eml" "$D/mail/intake/new/1700000001.m5.host"
check "a leftover of a committed Maildir message is deleted" wait_for 30 test ! -e "$D/mail/intake/new/1700000001.m5.host"
check "... and makes no second batch" sh -c "[ \$('$TAYORI' batch list -d '$D' --json | grep -o '\"batch\":' | wc -l) -eq $B ]"
# a refused message in the Maildir: deleted, kept sealed
K=$(kept)
eml sato@city.example.jp "Maildir PDFなし" "$T/stage/m8.eml" nopdf
mv "$T/stage/m8.eml" "$D/mail/intake/new/1700000002.m8.host"
check "a refused Maildir message is deleted" wait_for 30 test ! -e "$D/mail/intake/new/1700000002.m8.host"
check "... no .Rejected folder is made, nothing left in clear" sh -c "[ ! -e '$D/mail/intake/.Rejected' ] && [ -z \"\$(find '$D/mail/intake' -type f)\" ]"
check "... and it is kept sealed" sh -c "[ \"\$(mdb_stat -s rejected '$D/db' | sed -n 's/^ *Entries: //p')\" -eq $((K + 1)) ]"
# a refused folder (no CSV): deleted, kept sealed, no note left beside it
K=$(kept)
mkdir "$T/stage/no-csv" && cp "$T/c/corpus.pdf" "$T/stage/no-csv/"
own "$T/stage/no-csv"
mv "$T/stage/no-csv" "$D/inbox/"
check "a refused folder is deleted" wait_for 30 test ! -e "$D/inbox/no-csv"
check "... leaving nothing in the inbox" no_clear_copy
check "... and it is kept sealed" sh -c "[ \"\$(mdb_stat -s rejected '$D/db' | sed -n 's/^ *Entries: //p')\" -eq $((K + 1)) ]"
# an administrator gets a kept input back, with an audit record
"$TAYORI" intake rejected list -d "$D" >"$T/kept.txt" 2>&1
check "tayori intake rejected list names the refused folder and why" grep -q 'no-csv: the folder has no recipients CSV' "$T/kept.txt"
ID=$(grep 'no-csv:' "$T/kept.txt" | cut -d' ' -f1)
check_status 0 "tayori intake rejected show writes it out" "$TAYORI" intake rejected show -d "$D" "$ID" "$T/back"
check "... byte for byte" cmp "$T/back/01-corpus.pdf" "$T/c/corpus.pdf"
check "... with an audit record naming it" sh -c "'$TAYORI' audit show -d '$D' | grep intake.rejected_show | grep -q 'input:$ID'"
check_status 1 "an unknown ID is refused" "$TAYORI" intake rejected show -d "$D" 0123456789abcdef "$T/back2"

# 7. the gateway killed at several moments of a batch (reading, signing,
# storing): on restart the input is taken again and makes exactly one batch
for delay in 0.3 0.8 1.5; do
	B=$(batches)
	name=big-$delay
	mkdir "$T/stage/$name" && cp "$T/big/corpus.csv" "$T/big/corpus.pdf" "$T/stage/$name/"
	printf '件名: 大きな一括 %s\n\n本文\n' "$delay" > "$T/stage/$name/message.txt"
	touch -d '5 minutes ago' "$T/stage/$name" "$T/stage/$name"/*
	own "$T/stage/$name"
	mv "$T/stage/$name" "$D/inbox/"
	sleep "$delay"
	GW=$(ps -o pid= -o comm= --ppid "$SUP" | awk '$2 == "tayori-gateway" { print $1 }')
	kill -9 "$GW" 2>/dev/null
	check "killed ${delay}s into a batch: the gateway had not finished it" test -d "$D/inbox/$name"
	check "... after the restart the folder is taken and deleted" wait_for 300 test ! -e "$D/inbox/$name"
	check "... as exactly one batch" sh -c "[ \$('$TAYORI' batch list -d '$D' --json | grep -o '\"batch\":' | wc -l) -eq $((B + 1)) ]"
	check "... with no orphan PDFs in the store" sh -c "[ \"\$(mdb_stat -s pdfs '$D/db' | sed -n 's/^ *Entries: //p')\" = \"\$('$TAYORI' batch list -d '$D' --json | grep -o '\"signed\":[0-9]*' | cut -d: -f2 | awk '{ s += \$1 } END { print s + 0 }')\" ]"
done

# 8. a poison input: the gateway is killed twice while taking the same
# message; the third start sets it aside instead of dying on it forever
B=$(batches); R=$(replies); K=$(kept)
ready() { grep -c "role=gateway .*event=ready" "$T/run.log"; }
eml sato@city.example.jp "毒入り" "$T/stage/poison.eml" pdf big
N=$(ready)
mv "$T/stage/poison.eml" "$D/inbox/"
for kill in 1 2; do
	sleep 1
	GW=$(ps -o pid= -o comm= --ppid "$SUP" | awk '$2 == "tayori-gateway" { print $1 }')
	kill -9 "$GW" 2>/dev/null
	check "poison: killed while taking it (time $kill)" test -e "$D/inbox/poison.eml"
	check "... the gateway starts again" wait_for 60 sh -c "[ \$(grep -c 'role=gateway .*event=ready' '$T/run.log') -gt $N ]"
	N=$(ready)
done
check "the poison input is set aside: deleted from the inbox" wait_for 300 test ! -e "$D/inbox/poison.eml"
check "... with no batch" sh -c "[ \$('$TAYORI' batch list -d '$D' --json | grep -o '\"batch\":' | wc -l) -eq $B ]"
check "... kept sealed like a refused input" sh -c "[ \"\$(mdb_stat -s rejected '$D/db' | sed -n 's/^ *Entries: //p')\" -eq $((K + 1)) ]"
check "... with an audit record naming the sender" sh -c "'$TAYORI' audit show -d '$D' | grep intake.poison | grep -q 'staff:'"
check "... and a reply telling the sender" wait_for 5 sh -c "[ \$(ls '$D/mail/outbox/new' | wc -l) -eq $((R + 1)) ] && for f in '$D'/mail/outbox/new/*; do sed -n '/^\$/,\$p' \"\$f\" | base64 -d 2>/dev/null; done | grep -q 'stopped twice'"
check "... and no attempt count is left behind" sh -c "! mdb_dump -s intake -p '$D/db' | grep -q attempt"

# 9. kept refused inputs go after keep_rejected days (the clock moved on)
kill -TERM $SUP; wait $SUP 2>/dev/null
TAYORI_TEST_CLOCK_SKEW=$((8 * 86400)) "$TAYORI" run -d "$D" >"$T/run2.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP; pkill -9 -P $SUP"
check "kept refused inputs are deleted once keep_rejected has passed" wait_for 30 sh -c "[ \"\$(mdb_stat -s rejected '$D/db' | sed -n 's/^ *Entries: //p')\" -eq 0 ]"
check "... with an audit record" sh -c "'$TAYORI' audit show -d '$D' | grep -q intake.expire"

# 10. keep_rejected = 0: a refused input is deleted and nothing is kept
sed -i -e "s/^#keep_rejected = .*/keep_rejected = 0/" "$D/tayori.conf"
kill -TERM $SUP; wait $SUP 2>/dev/null
"$TAYORI" run -d "$D" >"$T/run3.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP; pkill -9 -P $SUP"
check "restarted with keep_rejected = 0" wait_for 30 grep -q "role=gateway .*event=ready" "$T/run3.log"
R=$(replies)
eml sato@city.example.jp "保管なし" "$T/stage/m9.eml" nopdf
mv "$T/stage/m9.eml" "$D/inbox/"
check "keep_rejected = 0: a refused input is deleted" wait_for 30 test ! -e "$D/inbox/m9.eml"
check "... answered" wait_for 30 sh -c "[ \$(ls '$D/mail/outbox/new' | wc -l) -eq $((R + 1)) ]"
check "... and not kept" sh -c "[ \"\$(mdb_stat -s rejected '$D/db' | sed -n 's/^ *Entries: //p')\" -eq 0 ]"
check_status 0 "the audit log verifies" "$TAYORI" audit verify -d "$D"
done_testing
