#!/bin/sh
# Mail intake end to end: staff mail delivered by IMAP APPEND to a real,
# throwaway Dovecot is picked up by the gateway of `tayori run`, becomes a
# batch, and moves to Processed; a stranger's mail moves to Rejected with no
# batch and no reply; the same message delivered twice makes one batch.
# With imap_processed_delete = yes, taken messages are expunged from the
# server instead, and a refused one is kept only sealed in tayori's store.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
CTL="$PY $TOP/tests/imap/imapctl.py"
command -v dovecot >/dev/null 2>&1 || { fail "dovecot is not installed"; done_testing; exit 1; }

chmod 711 "$T"
M=$T/dovecot
mkdir -p "$M/mail" "$M/run" "$M/state"
chown -R dovecot:dovecot "$M/mail"
freeport() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(freeport)
export IMAP_PORT=$PORT IMAP_USER=intake IMAP_PASS=intake-Pw-0815
cat > "$M/dovecot.conf" <<CONF
base_dir = $M/run
state_dir = $M/state
log_path = $M/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
mail_location = maildir:$M/mail/%u
passdb {
  driver = static
  args = password=$IMAP_PASS
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$M/mail/%u
}
service imap-login {
  inet_listener imap {
    port = $PORT
  }
}
first_valid_uid = 1
shutdown_clients = yes
default_internal_user = dovecot
default_login_user = dovenull
CONF
dovecot -c "$M/dovecot.conf" || { fail "start Dovecot"; done_testing; exit 1; }
at_exit "doveadm -c '$M/dovecot.conf' stop"
check "Dovecot answers" wait_for 10 $PY -c "import socket; socket.create_connection(('127.0.0.1',$PORT),1)"

D=$T/var
P1=$(freeport); P2=$(freeport)
"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s/^#syslog = .*/syslog = no/" \
       -e "s|^#imap_url = .*|imap_url = imap://127.0.0.1:$PORT|" \
       -e "s/^#imap_user = .*/imap_user = $IMAP_USER/" \
       -e "s/^#imap_password_env = .*/imap_password_env = IMAP_PASS/" "$D/tayori.conf"
check_status 0 "the IMAP settings pass conf check" "$TAYORI" conf check -d "$D"
export PW=a-long-staff-password
"$TAYORI" user add tanaka -d "$D" --email tanaka@city.example.jp --password-env PW >/dev/null 2>&1
sh "$TOP/tests/bench/gen-corpus" "$T/c" 8 >/dev/null 2>&1

# An Outlook message: ISO-2022-JP subject, multipart/alternative body,
# RFC 2047 file names inside quotes, the CSV labelled as Excel.
outlook() { # FROM MESSAGE-ID OUT
	subj=$(printf '介護保険料決定通知' | iconv -f UTF-8 -t ISO-2022-JP | base64 -w0)
	fname=$(printf '宛先一覧.csv' | iconv -f UTF-8 -t ISO-2022-JP | base64 -w0)
	{
		printf 'From: "Tanaka" <%s>\r\nTo: <intake@city.example.jp>\r\nSubject: =?iso-2022-jp?B?%s?=\r\n' "$1" "$subj"
		printf 'Message-ID: <%s>\r\nMIME-Version: 1.0\r\nX-Mailer: Microsoft Outlook 16.0\r\n' "$2"
		printf 'Content-Type: multipart/mixed;\r\n\tboundary="----=_NextPart_000_0001"\r\n\r\n'
		printf -- '------=_NextPart_000_0001\r\nContent-Type: multipart/alternative;\r\n\tboundary="----=_NextPart_001_0002"\r\n\r\n'
		printf -- '------=_NextPart_001_0002\r\nContent-Type: text/plain;\r\n\tcharset="iso-2022-jp"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n'
		printf '区民の皆さまへ\r\n' | iconv -f UTF-8 -t ISO-2022-JP
		printf '\r\n------=_NextPart_001_0002\r\nContent-Type: text/html;\r\n\tcharset="iso-2022-jp"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<html><body>x</body></html>\r\n\r\n------=_NextPart_001_0002--\r\n\r\n'
		printf -- '------=_NextPart_000_0001\r\nContent-Type: application/vnd.ms-excel;\r\n\tname="=?iso-2022-jp?B?%s?="\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment;\r\n\tfilename="=?iso-2022-jp?B?%s?="\r\n\r\n' "$fname" "$fname"
		base64 -w 76 "$T/c/corpus.csv" | sed 's/$/\r/'
		printf '\r\n------=_NextPart_000_0001\r\nContent-Type: application/pdf;\r\n\tname="notices.pdf"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment;\r\n\tfilename="notices.pdf"\r\n\r\n'
		base64 -w 76 "$T/c/corpus.pdf" | sed 's/$/\r/'
		printf '\r\n------=_NextPart_000_0001--\r\n'
	} > "$3"
}
# Thunderbird: RFC 2231 file names, the CSV in quoted-printable, format=flowed.
thunderbird() { # OUT
	{
		printf 'Message-ID: <tb1@city.example.jp>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0900\r\nMIME-Version: 1.0\r\n'
		printf 'User-Agent: Mozilla Thunderbird\r\nFrom: Tanaka <tanaka@city.example.jp>\r\nTo: intake@city.example.jp\r\n'
		printf 'Subject: =?UTF-8?B?%s?=\r\n' "$(printf '国民健康保険税通知' | base64 -w0)"
		printf 'Content-Type: multipart/mixed;\r\n boundary="------------tb0123456789"\r\n\r\n'
		printf 'This is a multi-part message in MIME format.\r\n--------------tb0123456789\r\n'
		printf 'Content-Type: text/plain; charset=UTF-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
		printf '件名: 国保税（TB）\r\n\r\n区民の皆さまへ\r\n\r\n'
		printf -- '--------------tb0123456789\r\nContent-Type: text/csv; charset=UTF-8;\r\n name="%s"\r\n' 'list.csv'
		printf "Content-Disposition: attachment;\r\n filename*=UTF-8''%%E5%%AE%%9B%%E5%%85%%88.csv\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
		iconv -f CP932 -t UTF-8 "$T/c/corpus.csv" | tr -d '\r' | $PY -c 'import quopri,sys; sys.stdout.buffer.write(quopri.encodestring(sys.stdin.buffer.read()).replace(b"\n", b"\r\n"))'
		printf '\r\n--------------tb0123456789\r\nContent-Type: application/pdf; name="notices.pdf"\r\n'
		printf 'Content-Disposition: attachment; filename="notices.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
		base64 -w 72 "$T/c/corpus.pdf" | sed 's/$/\r/'
		printf '\r\n--------------tb0123456789--\r\n'
	} > "$1"
}
# Gmail: a batch forwarded as an attached message (message/rfc822).
forwarded() { # OUT
	{
		printf 'MIME-Version: 1.0\r\nFrom: Tanaka <tanaka@city.example.jp>\r\nDate: Thu, 26 Nov 2026 11:00:00 +0900\r\n'
		printf 'Message-ID: <CAfwd000@mail.gmail.com>\r\nSubject: =?UTF-8?B?%s?=\r\nTo: intake@city.example.jp\r\n' "$(printf 'Fwd: 転送された一括' | base64 -w0)"
		printf 'Content-Type: multipart/mixed; boundary="000000000000fwd1"\r\n\r\n--000000000000fwd1\r\n'
		printf 'Content-Type: multipart/alternative; boundary="000000000000fwd2"\r\n\r\n--000000000000fwd2\r\n'
		printf 'Content-Type: text/plain; charset="UTF-8"\r\n\r\n転送します\r\n\r\n--000000000000fwd2\r\n'
		printf 'Content-Type: text/html; charset="UTF-8"\r\n\r\n<div dir="ltr">転送します</div>\r\n\r\n--000000000000fwd2--\r\n'
		printf -- '--000000000000fwd1\r\nContent-Type: message/rfc822; name="batch.eml"\r\nContent-Disposition: attachment; filename="batch.eml"\r\n\r\n'
		outlook tanaka@city.example.jp "inner@city.example.jp" /dev/stdout | sed 's/介護/x/'
		printf '\r\n--000000000000fwd1--\r\n'
	} > "$1"
}
# Apple Mail: the PDF inline, Apple's boundary style and x-unix-mode.
applemail() { # OUT
	{
		printf 'From: =?utf-8?B?%s?= <tanaka@city.example.jp>\r\n' "$(printf '田中' | base64 -w0)"
		printf 'Content-Type: multipart/mixed;\r\n\tboundary="Apple-Mail=_0A1B2C3D-4E5F"\r\nMime-Version: 1.0 (Mac OS X Mail 16.0)\r\n'
		printf 'Subject: =?utf-8?B?%s?=\r\nMessage-Id: <A1B2@city.example.jp>\r\nTo: intake@city.example.jp\r\n\r\n' "$(printf '児童手当のお知らせ' | base64 -w0)"
		printf -- '--Apple-Mail=_0A1B2C3D-4E5F\r\nContent-Transfer-Encoding: 7bit\r\nContent-Type: text/plain;\r\n\tcharset=us-ascii\r\n\r\nPlease see the notices.\r\n\r\n'
		printf -- '--Apple-Mail=_0A1B2C3D-4E5F\r\nContent-Disposition: inline;\r\n\tfilename=notices.pdf\r\nContent-Type: application/pdf;\r\n\tx-unix-mode=0644;\r\n\tname="notices.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
		base64 -w 76 "$T/c/corpus.pdf" | sed 's/$/\r/'
		printf '\r\n--Apple-Mail=_0A1B2C3D-4E5F\r\nContent-Disposition: attachment;\r\n\tfilename=list.csv\r\nContent-Type: text/csv;\r\n\tx-unix-mode=0644;\r\n\tname="list.csv"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
		base64 -w 76 "$T/c/corpus.csv" | sed 's/$/\r/'
		printf '\r\n--Apple-Mail=_0A1B2C3D-4E5F--\r\n'
	} > "$1"
}
outlook tanaka@city.example.jp "m1@city.example.jp" "$T/m1.eml"
thunderbird "$T/m3.eml"
applemail "$T/m5.eml"
outlook mallory@evil.example "m2@evil.example" "$T/m2.eml"

"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP"
check "the gateway watches the IMAP mailbox" wait_for 15 grep -q "role=gateway .*imap=watching" "$T/run.log"
GWP=$(ps -o pid= -o comm= --ppid "$SUP" | awk '$2 == "tayori-gateway" { print $1 }')
check "the gateway's environment does hold it (the control)" sh -c "tr '\\0' '\\n' < /proc/$GWP/environ | grep -q '$IMAP_PASS'"
for r in keys mailer portal; do
	pid=$(ps -o pid= -o comm= --ppid "$SUP" | awk -v r="tayori-$r" '$2 == r { print $1 }')
	check "the $r role's environment holds no IMAP password" sh -c "! tr '\\0' '\\n' < /proc/$pid/environ | grep -q '$IMAP_PASS'"
done

$CTL append INBOX "$T/m1.eml"
check "staff mail appended by IMAP moves to Processed" sh -c "$CTL wait Processed 1 60 >/dev/null"
check "... after becoming a batch" sh -c "'$TAYORI' batch list -d '$D' | grep -q 介護保険料決定通知"
check "... with every resident matched" sh -c "'$TAYORI' batch list -d '$D' --json | grep -q '\"matched\":8'"
check "... and a reply queued for the sender" wait_for 5 sh -c "grep -l '^To: tanaka@city.example.jp' '$D'/mail/outbox/new/* | grep -q ."
check "INBOX is empty again" sh -c "[ \$($CTL count INBOX) -eq 0 ]"

$CTL append INBOX "$T/m2.eml"
check "a stranger's mail moves to Rejected" sh -c "$CTL wait Rejected 1 60 >/dev/null"
check "... without a batch" sh -c "[ \$('$TAYORI' batch list -d '$D' --json | grep -o '\"batch\":' | wc -l) -eq 1 ]"
check "... and without a reply" sh -c "! grep -l 'evil.example' '$D'/mail/outbox/new/* 2>/dev/null | grep -q ."

# The same message again, as after a crash between commit and move.
$CTL append INBOX "$T/m1.eml"
check "the same message again moves to Processed" sh -c "$CTL wait Processed 2 60 >/dev/null"
check "... and makes no second batch" sh -c "[ \$('$TAYORI' batch list -d '$D' --json | grep -o '\"batch\":' | wc -l) -eq 1 ]"
$CTL append INBOX "$T/m3.eml"
check "a Thunderbird message (RFC 2231 names, QP CSV) becomes a batch" sh -c "$CTL wait Processed 3 60 >/dev/null"
check "... titled by its settings line" sh -c "'$TAYORI' batch list -d '$D' | grep -q '国保税（TB）'"
check "... with every resident matched" sh -c "'$TAYORI' batch list -d '$D' --json | grep -o '\"matched\":8' | wc -l | grep -qx 2"
forwarded "$T/m4.eml"
$CTL append INBOX "$T/m4.eml"
check "a batch forwarded as message/rfc822 becomes a batch" sh -c "$CTL wait Processed 4 60 >/dev/null"
check "... with every resident matched" sh -c "'$TAYORI' batch list -d '$D' --json | grep -o '\"matched\":8' | wc -l | grep -qx 3"
$CTL append INBOX "$T/m5.eml"
check "an Apple Mail message with an inline PDF becomes a batch" sh -c "$CTL wait Processed 5 60 >/dev/null"
check "... titled by its subject, every resident matched" sh -c "'$TAYORI' batch list -d '$D' | grep '児童手当のお知らせ' | grep -q ' 8/8 '"

# imap_processed_delete = yes
sed -i -e "s/^#imap_processed_delete = .*/imap_processed_delete = yes/" "$D/tayori.conf"
kill -TERM $SUP; wait $SUP 2>/dev/null
"$TAYORI" run -d "$D" >"$T/run2.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP"
check "restarted with imap_processed_delete = yes" wait_for 30 grep -q "role=gateway .*imap=watching" "$T/run2.log"
K=$(mdb_stat -s rejected "$D/db" | sed -n 's/^ *Entries: //p')
outlook tanaka@city.example.jp "m6@city.example.jp" "$T/m6.eml"
outlook mallory@evil.example "m7@evil.example" "$T/m7.eml"
$CTL append INBOX "$T/m6.eml"
$CTL append INBOX "$T/m7.eml"
check "staff mail is expunged once its batch is stored, a stranger's once dropped" \
	wait_for 60 sh -c "[ \$($CTL count INBOX) -eq 0 ] && [ \$('$TAYORI' batch list -d '$D' --json | grep -o '\"batch\":' | wc -l) -eq 5 ]"
check "... neither was moved to Processed or Rejected" sh -c "[ \$($CTL count Processed) -eq 5 ] && [ \$($CTL count Rejected) -eq 1 ]"
check "... no copy is left in the server's Maildir" sh -c "! grep -rlq -e 'm6@city.example.jp' -e 'm7@evil.example' '$M/mail'"
check "... the dropped one is kept sealed in tayori's store" \
	sh -c "[ \"\$(mdb_stat -s rejected '$D/db' | sed -n 's/^ *Entries: //p')\" -eq $((K + 1)) ]"
check "the log holds no password" sh -c "! grep -q '$IMAP_PASS' '$T/run.log' '$T/run2.log'"
check_status 0 "the audit log verifies" "$TAYORI" audit verify -d "$D"
done_testing
