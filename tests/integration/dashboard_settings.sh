#!/bin/sh
# tests/integration/dashboard_settings.sh — the dashboard's settings page
# (区の設定) against `tayori run` on a demo tenant, with curl: only
# administrators (manage-users) may see or change it (a clerk's refusal is
# a 403 page and an audit record); each bad field gets its own Japanese
# message and nothing is saved; good values are saved as one audited
# record (the fields named, not their values) that overrides tayori.conf:
# a test batch sent afterwards goes to the test addresses set on the page,
# and its mail carries the contact details and the default deadline set
# there.
#
# Standards: RFC 5322 (the mail read back), RFC 9110.
. "$(dirname "$0")/lib.sh"
D=$T/var
PY=/usr/bin/python3
need_tools curl
demo_ports 31 20000

check "init a demo tenant" demo_tenant \
	"s|^#test_addresses = .*|test_addresses = conf-test@ward.example.jp|"
export PW=a-long-enough-password
check "an administrator" staff_user kanri admin
check "an approver" staff_user shonin approver
KANRI=$(uid kanri); SHONIN=$(uid shonin)

demo_run
login a kanri "$PW"
login s shonin "$PW"

req s "$U/batches"
check "the approver's header has no settings link" sh -c "! grep -q 'href=\"/settings\"' '$T/b'"
req s "$U/settings"
check "the approver: 403, in Japanese" sh -c "[ $(code) = 403 ] && grep -q '設定の変更（ユーザー管理）の権限がない' '$T/b'"
C=$(csrf)
req s --data-urlencode "csrf=$C" --data-urlencode "contact=偽の窓口" "$U/settings"
check "... the POST too" sh -c "[ $(code) = 403 ]"
check "... audited" has_audit staff.refused "staff:$SHONIN" settings "need=manage-users method=POST"

req a "$U/batches"
check "the administrator's header links the settings" grep -q 'href="/settings">区の設定' "$T/b"
req a "$U/settings"
C=$(csrf)
check "the settings page: 200, every field labelled, the conf defaults shown" sh -c \
	"[ $(code) = 200 ] && [ \$(grep -c '<label for=' '$T/b') -eq 6 ] && grep -q 'conf-test@ward.example.jp' '$T/b' && grep -q '区役所の担当窓口' '$T/b'"
check "... no script, no external resource" sh -c "! grep -qiE '<script|https?://' '$T/b'"
req a --data-urlencode "csrf=$C" --data-urlencode "description=説明" --data-urlencode "contact=$(printf 'a\033[31mb')" \
	--data-urlencode "reminders=あした" --data-urlencode "deadline_days=400" \
	--data-urlencode "test_addresses=ok@ward.example.jp, not-an-address" \
	--data-urlencode "notice_types=$(printf '住民税決定通知｜地方税法｜紙で送付\n名称だけ')" "$U/settings"
check "bad values: 400, the form again with a summary" sh -c \
	"[ $(code) = 400 ] && grep -q '入力に誤りがあるため、保存していません' '$T/b'"
check "... one message per bad field, each in Japanese" sh -c \
	"grep -q 'id=\"contact-error\">1 行目に使えない文字' '$T/b' && grep -q 'id=\"reminders-error\">送信から何日後に督促するかを' '$T/b' && grep -q 'id=\"deadline_days-error\">送信から何日後を期限にするか' '$T/b' && grep -q 'id=\"test_addresses-error\">「not-an-address」はメールアドレスとして正しくありません' '$T/b' && grep -q 'id=\"notice_types-error\">2 行目を「名称｜' '$T/b' && [ \$(grep -c 'aria-invalid=\"true\"' '$T/b') -eq 5 ]"
check "... the good field is not marked" sh -c "! grep -q 'id=\"description-error\"' '$T/b'"
check "... what was typed is kept" grep -q 'value="あした"' "$T/b"
check "... nothing saved" [ "$(naudit settings.change)" -eq 0 ]
req a --data-urlencode "csrf=$C" --data-urlencode "description=オンライン通知サービスです。" \
	--data-urlencode "contact=$(printf '設定区 税務課 電話 03-1111-2222\\n平日 9時～17時')" \
	--data-urlencode "reminders=3,7" --data-urlencode "deadline_days=10" \
	--data-urlencode "test_addresses=$(printf 'tester1@ward.example.jp\ntester2@ward.example.jp')" \
	--data-urlencode "notice_types=$(printf '住民税決定通知｜地方税法｜紙で送付\n保険料決定通知|国民健康保険法|紙で送付')" "$U/settings"
check "good values: 303 back to the page" sh -c "[ $(code) = 303 ] && [ '$(location)' = '/settings?saved=1' ]"
req a "$U/settings?saved=1"
check "... which says saved and shows the values" sh -c \
	"grep -q '保存しました' '$T/b' && grep -q 'value=\"3,7\"' '$T/b' && grep -q 'value=\"10\"' '$T/b' && grep -q 'tester1@ward.example.jp, tester2@ward.example.jp' '$T/b' && grep -q 'staff:$KANRI' '$T/b'"
check "... audited with the fields changed, no values" has_audit settings.change "staff:$KANRI" settings \
	"fields=description,contact,reminders,deadline_days,test_addresses,notice_types"
check "... the contact is not in the store files in clear" sh -c "! grep -rqa '03-1111-2222' '$D/db'"
req a "$U/settings" -d x=1
check "a save without the CSRF token: 403, audited" sh -c "[ $(code) = 403 ]"
check "... audited" has_audit staff.csrf_refused "staff:$KANRI" settings ""

# --- the effect: a test batch goes to the addresses set, with the contact and deadline -----
sh "$TOP/tests/bench/gen-corpus" "$T/c" 3 >/dev/null 2>&1 || { fail "gen-corpus"; done_testing; exit 1; }
mkdir -p "$T/b1"; cp "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/b1/"
printf '件名: 設定のテスト\nテスト: はい\n\n区民の皆さまへ。\n' >"$T/b1/message.txt"
check "a test batch" sh -c "'$TAYORI' submit -d '$D' --json '$T/b1' >'$T/b1.json'"
B1=$(jval "$T/b1.json" 'd["batch"]')
check "... approved and sent" sh -c "'$TAYORI' batch approve '$B1' --as shonin -d '$D' && '$TAYORI' batch send '$B1' --as shonin -d '$D'"
OB=$D/mail/outbox/new
check "... the mailer writes its three messages" wait_for 30 sh -c "[ \$(ls '$OB' 2>/dev/null | wc -l) -ge 3 ]"
cat >"$T/mails.py" <<'PYEOF'
import datetime, email, email.policy, os, sys
d = sys.argv[1]
tos, ok = set(), True
day = datetime.datetime.utcnow() + datetime.timedelta(hours=9) + datetime.timedelta(days=10)
deadline = "%d年%d月%d日" % (day.year, day.month, day.day)
for n in os.listdir(d):
    m = email.message_from_bytes(open(os.path.join(d, n), "rb").read(), policy=email.policy.default)
    tos.add(m["To"].addresses[0].addr_spec)
    text = m.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    if "設定区 税務課 電話 03-1111-2222\n平日 9時" not in text or "区役所の担当窓口" in text:
        print("contact missing in", n); ok = False
    if "■ 確認の期限\n" + deadline not in text:
        print("deadline", deadline, "missing in", n); ok = False
print(sorted(tos))
sys.exit(0 if ok and tos == {"tester1@ward.example.jp", "tester2@ward.example.jp"} else 1)
PYEOF
check "the test mail goes to the page's test addresses (not the conf's), with its contact and a 10-day deadline" \
	$PY "$T/mails.py" "$OB"

check_status 0 "the audit chain verifies" "$TAYORI" audit verify -d "$D"
done_testing
