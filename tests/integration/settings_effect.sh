#!/bin/sh
# tests/integration/settings_effect.sh — what the ward's settings page (区の
#設定) changes for residents and staff, read where they get it, against
# `tayori run` on a demo tenant:
#  - the service's description: [portal] description on the resident front
#    page until the ward saves its own, then the saved one, escaped, its line
#    breaks kept, on the front page and on the page a mailed link opens;
#  - the default deadline (期限): a batch sent without its own gets the
#    ward's default (here 2 days after sending), the same date in the mail
#    read from the outbox Maildir, on the dashboard's batch page, and as the
#    moment the paper list takes those who did not download: before it (now,
#    and one day on) the paper list CSV of `tayori batch export --paper` is
#    empty, after it (three days on, the clock moved with Debian's faketime
#    for the command alone) it holds exactly the residents who did not
#    download, and `tayori batch show --json` says "paper" for them.
#
# Standards: RFC 5322 (the mail read back), RFC 4180 (the CSV), RFC 9110.
. "$(dirname "$0")/lib.sh"
D=$T/var
PY=/usr/bin/python3
for tool in curl iconv faketime; do
	command -v "$tool" >/dev/null 2>&1 || { fail "the test needs $tool"; done_testing; exit 1; }
done
P1=$((20000 + ($$ + 43) % 20000)); P2=$((P1 + 1))
R=http://127.0.0.1:$P1
U=http://127.0.0.1:$P2
# The commands whose clock faketime moves run the build without sanitizers:
# under ASan they deadlock now and then (ASan's allocator reads the clock
# with its lock held; faketime's first clock call looks up symbols, and
# that allocates).
FAKED=$TOP/tayori
[ -x "$FAKED" ] || FAKED=$TAYORI

check "init a demo tenant" "$TAYORI" init -d "$D" --demo
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s|^#public_url = .*|public_url = http://127.0.0.1:$P1|" \
       -e "s|^#description = .*|description = \"設定ファイルの説明です。<i>斜体</i>ではありません。\"|" \
       -e "s/^#syslog = .*/syslog = no/" "$D/tayori.conf"
export PW=a-long-enough-password
check "an administrator" "$TAYORI" user add kanri -d "$D" --email kanri@ward.example.jp --role admin --password-env PW
check "an approver" "$TAYORI" user add shonin -d "$D" --email shonin@ward.example.jp --role approver --password-env PW

demo_run
check "the resident listener answers" wait_for 15 curl -fsS -o /dev/null "$R/"

# --- the description ------------------------------------------------------------
curl -s -o "$T/front0.html" "$R/"
check "front page before any setting: the conf's description, escaped" sh -c \
	"grep -q 'このサービスについて' '$T/front0.html' && grep -qF '設定ファイルの説明です。&lt;i&gt;斜体&lt;/i&gt;ではありません。' '$T/front0.html' && ! grep -qF '<i>' '$T/front0.html'"

login a kanri "$PW"
req a "$U/settings"; C=$(csrf)
DESC=$(printf '区役所からの大切なお知らせを、メールでお届けします。\n紙の通知を希望する方は <script>x()</script> & 窓口へ。')
req a --data-urlencode "csrf=$C" --data-urlencode "description=$DESC" --data-urlencode "deadline_days=2" "$U/settings"
check "the administrator saves a description and a 2-day default deadline (303)" [ "$(code)" = 303 ]
curl -s -o "$T/front1.html" "$R/"
check "front page: the ward's description, not the conf's" sh -c \
	"grep -q '区役所からの大切なお知らせを、メールでお届けします。' '$T/front1.html' && ! grep -q '設定ファイルの説明' '$T/front1.html'"
check "... escaped (no markup of its own), both lines kept" sh -c \
	"grep -qF '紙の通知を希望する方は &lt;script&gt;x()&lt;/script&gt; &amp; 窓口へ。' '$T/front1.html' && ! grep -qi '<script' '$T/front1.html' && grep -A1 'お届けします。\$' '$T/front1.html' | grep -q '^紙の通知を'"

# --- a live batch without its own 期限, sent -----------------------------------------
sh "$TOP/tests/bench/gen-corpus" "$T/c" 3 >"$T/gen.log" 2>&1 || { fail "gen-corpus"; sed 's/^/#   /' "$T/gen.log"; done_testing; exit 1; }
iconv -f CP932 -t UTF-8 "$T/c/corpus.csv" | tr -d '\r' | sed 1d >"$T/rows.utf8"
key() { sed -n "${1}p" "$T/rows.utf8" | cut -d, -f1; }
addr() { sed -n "${1}p" "$T/rows.utf8" | cut -d, -f3; }
mkdir -p "$T/b1"; cp "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/b1/"
printf '件名: 期限の既定のテスト\n\n区民の皆さまへ。\n' >"$T/b1/message.txt"
check "a batch with no 期限" sh -c "'$TAYORI' submit -d '$D' --json '$T/b1' >'$T/b1.json'"
B=$(jval "$T/b1.json" 'd["batch"]')
check "... approved and sent" sh -c "'$TAYORI' batch approve '$B' --as shonin -d '$D' && '$TAYORI' batch send '$B' --as shonin -d '$D'"
OB=$D/mail/outbox/new
check "the mailer writes its three messages" wait_for 30 sh -c "[ \$(ls '$OB' 2>/dev/null | wc -l) -ge 3 ]"
DAY=$($PY -c 'import datetime
d = datetime.datetime.utcnow() + datetime.timedelta(hours=9, days=2)
print("%d-%02d-%02d" % (d.year, d.month, d.day))')
cat >"$T/mails.py" <<'PYEOF'
import email, email.policy, os, re, sys
d, day, out = sys.argv[1], sys.argv[2], sys.argv[3]
y, m, dd = (int(x) for x in day.split("-"))
want = "■ 確認の期限\n%d年%d月%d日" % (y, m, dd)
ok, links = True, []
for n in sorted(os.listdir(d)):
    msg = email.message_from_bytes(open(os.path.join(d, n), "rb").read(), policy=email.policy.default)
    text = msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    if want not in text:
        print("no", want, "in", n); ok = False
    link = re.search(r"http://127\.0\.0\.1:\d+/n/[A-Za-z0-9_-]+", text)
    links.append("%s %s" % (msg["To"].addresses[0].addr_spec, link.group(0) if link else "-"))
open(out, "w").write("\n".join(links) + "\n")
sys.exit(0 if ok and len(links) == 3 else 1)
PYEOF
check "every mail gives the default deadline, 2 days after sending ($DAY)" $PY "$T/mails.py" "$OB" "$DAY" "$T/links"
req a "$U/batches/$B"
check "the dashboard's batch page: the same date, marked as the ward's default" \
	grep -qF "<dt>受け取り期限</dt><dd>$DAY（区の既定の日数から）" "$T/b"
"$TAYORI" batch show "$B" -d "$D" --json >"$T/show-sent.json" 2>&1
jtrue "... and batch show --json: the same date, as the ward's default" "$T/show-sent.json" \
	"d['summary']['deadline'] == '$DAY' and d['summary']['deadline_default'] is True"

# --- resident 1 downloads; the others do not -------------------------------------------
L1=$(awk -v a="$(addr 1)" '$1 == a { print $2 }' "$T/links")
J=$T/jar.r1
curl -s -c "$J" -b "$J" -o "$T/link.html" "$L1"
check "the link page shows the ward's description too" grep -q '区役所からの大切なお知らせを、メールでお届けします。' "$T/link.html"
RC=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/link.html" | head -1)
curl -s -o /dev/null -c "$J" -b "$J" -d "csrf=$RC" "$L1"
curl -s -o "$T/got.pdf" -b "$J" "$R/notice/pdf"
check "resident 1 downloads the signed PDF" sh -c "head -c 5 '$T/got.pdf' | grep -q '%PDF-'"
check "... recorded as downloaded" wait_for 10 sh -c "'$TAYORI' batch show '$B' -d '$D' --json | grep -q '\"downloaded\"'"

# paper KEYS_FILE: the keys on the paper list CSV $T/p.csv, one a line
paper_keys() { $PY -c 'import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig")))
k = [h for h in rows[0]].index(next(h for h in rows[0] if "宛名番号" in h or h == "key"))
print("\n".join(sorted(str(int(r[k].lstrip("\x27"))) for r in rows[1:])))' "$1"; }
check_status 0 "now: export --paper" "$TAYORI" batch export "$B" --paper -o "$T/p0.csv" -d "$D"
check "... the paper list is empty (the deadline has not passed)" [ -z "$(paper_keys "$T/p0.csv")" ]
check_status 0 "one day on (before the deadline): export --paper" faketime -f "+1d" "$FAKED" batch export "$B" --paper -o "$T/p1.csv" -d "$D"
check "... still empty" [ -z "$(paper_keys "$T/p1.csv")" ]
check_status 0 "three days on (past the default deadline): export --paper" faketime -f "+3d" "$FAKED" batch export "$B" --paper -o "$T/p3.csv" -d "$D"
WANT=$(printf '%s\n%s\n' "$(key 2)" "$(key 3)" | sed 's/^0*//' | LC_ALL=C sort)
check "... exactly the two residents who did not download" [ "$(paper_keys "$T/p3.csv")" = "$WANT" ]
check "... each for not downloading by the deadline" sh -c "[ \$(grep -c '期限までに受け取りなし' '$T/p3.csv') -eq 2 ]"
faketime -f "+3d" "$FAKED" batch show "$B" -d "$D" --json >"$T/show3.json" 2>"$T/show3.err"
jtrue "... and batch show --json: paper for them, downloaded for resident 1" "$T/show3.json" \
	"sorted((int(r['key']), r['state']) for r in d['residents']) == sorted([(int('$(key 1)'), 'downloaded'), (int('$(key 2)'), 'paper'), (int('$(key 3)'), 'paper')])"
"$TAYORI" batch show "$B" -d "$D" --json >"$T/show0.json" 2>&1
jtrue "today: nobody is on paper yet" "$T/show0.json" "all(r['state'] != 'paper' for r in d['residents'])"

check_status 0 "the audit chain verifies" "$TAYORI" audit verify -d "$D"
done_testing
