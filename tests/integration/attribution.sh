#!/bin/sh
# tests/integration/attribution.sh — the property "a resident's notice holds
# their own pages and nobody else's", checked on the stored notices
# themselves.  For each seed, tests/attribution/gen-batch makes a random
# batch (residents missing from the CSV, extra CSV rows, pages showing the
# head of household's number beside the addressee's, keyless continuation
# pages, keys in table cells, full-width digits, 1-3 pages per resident);
# `tayori submit --json` takes it; then every resident's notice is read
# back with `tayori batch pdf`, pdftotext and qpdf, and must:
#   - show its own key, and no other key of the CSV or of the PDF (its own
#     head of household's number aside, printed on its page);
#   - have exactly the resident's pages;
# every resident missing from the CSV must be in unmatched_pdf_keys and
# have no notice; every CSV row without pages in csv_rows_without_pdf.
# A resident may be held back (held_pdf_keys, csv_rows_without_pdf) only
# in the layout where no label stands on the number's line (a header row);
# with a label every resident must get their notice.
#
# `make check` runs three small batches chosen to cover the layouts (seed
# 1: key and label inline, key on first pages only, page numbers; 34: a
# header row, keys on every page; 42: table cells, no page numbers); with
# SEEDS set, SEEDS batches from FIRST_SEED (default 1) run instead:
# `make soak SEEDS=200`.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
D=$T/var
if [ -n "${SEEDS:-}" ]; then
	LIST=$(seq "${FIRST_SEED:-1}" $((${FIRST_SEED:-1} + SEEDS - 1)))
else
	LIST="1 34 42"
fi

for tool in qpdf pdftotext; do
	command -v "$tool" >/dev/null 2>&1 || { fail "the test needs $tool"; done_testing; exit 1; }
done
check "init a demo tenant" "$TAYORI" init -d "$D" --demo

cat >"$T/check.py" <<'EOF'
# check.py MANIFEST REPORT STATUS TAYORI DATADIR WORK: prints one line per
# violation; exits 1 if there is any.
import json, re, subprocess, sys, unicodedata
man, rep_path, status, tayori, data, work = sys.argv[1:7]
style = keys_mode = None
res, extras = [], []
for line in open(man, encoding="utf-8"):
    f = line.split()
    if f[0] == "style": style = f[1]
    elif f[0] == "keys": keys_mode = f[1]
    elif f[0] == "resident": res.append({"key": f[1], "csv": f[2] == "1", "pages": int(f[3]), "head": None if f[4] == "-" else f[4]})
    elif f[0] == "extra": extras.append(f[1])
bad = []
if status != "0":
    # Refusing is safe, and allowed only where nothing on the number's
    # line says whose it is.
    if style != "header":
        bad.append("exit %s for a batch with labelled keys: %s" % (status, open(rep_path).read()[:300]))
    for b in bad: print(b)
    sys.exit(1 if bad else 0)
d = json.load(open(rep_path, encoding="utf-8"))
csv_keys = {r["key"] for r in res if r["csv"]} | set(extras)
pdf_keys = {r["key"] for r in res} | {r["head"] for r in res if r["head"]}
every_key = csv_keys | pdf_keys
held = set(d.get("held_pdf_keys", [])) | set(d.get("repeated_pdf_keys", []))
without = set(d["csv_rows_without_pdf"])
unmatched = set(d["unmatched_pdf_keys"])
batch = d["batch"]
# The CSV's keys as the batch stores them: a row whose zeros Excel dropped
# keeps its digits, padded to the width inferred from the column.
width = d["inferred"]["key_width"]
def forms(key):
    return {key, key.lstrip("0").zfill(width)}
def within(key, keys):
    return bool(forms(key) & set(keys))
def notice(key):
    for f in sorted(forms(key)):
        out = "%s/%s.pdf" % (work, f)
        p = subprocess.run([tayori, "batch", "pdf", str(batch), f, out, "-d", data], capture_output=True)
        if p.returncode == 0:
            return out
    return None
stored = 0
for r in res:
    k = r["key"]
    f = notice(k)
    if not r["csv"]:
        if not within(k, unmatched): bad.append("%s is missing from the CSV but not in unmatched_pdf_keys" % k)
        if f: bad.append("%s is missing from the CSV but has a notice" % k)
        continue
    if f is None:
        if not within(k, held) or not within(k, without):
            bad.append("%s has no notice and is not reported held back and without a PDF" % k)
        elif style != "header":
            bad.append("%s was held back though its key has a label" % k)
        continue
    stored += 1
    text = unicodedata.normalize("NFKC", subprocess.run(["pdftotext", "-enc", "UTF-8", f, "-"], capture_output=True).stdout.decode("utf-8"))
    nums = set(re.findall(r"\d+", text))
    if k not in nums: bad.append("%s's notice does not show its key" % k)
    others = (nums & every_key) - {k, r["head"]}
    if others: bad.append("%s's notice shows other keys: %s" % (k, sorted(others)))
    n = int(subprocess.run(["qpdf", "--show-npages", f], capture_output=True).stdout or 0)
    if n != r["pages"]: bad.append("%s's notice has %d pages, not %d" % (k, n, r["pages"]))
for k in [k for k in csv_keys if within(k, held)]:
    if not any("page" in line and "several residents" in line for line in d["rows_held"]):
        bad.append("%s is held back but rows_held names no page" % k)
for k in extras:
    if not within(k, without): bad.append("CSV row %s has no pages but is not in csv_rows_without_pdf" % k)
    if notice(k): bad.append("CSV row %s has no pages but has a notice" % k)
if d["signed"] != stored: bad.append("%d notices signed, %d read back" % (d["signed"], stored))
for k in unmatched:
    if not any(within(m, [k]) for m in pdf_keys - csv_keys): bad.append("%s reported unmatched but is no resident missing from the CSV" % k)
for b in bad: print(b)
print("# seed checked: style %s, keys %s, %d residents, %d stored, %d unmatched, %d held" % (style, keys_mode, len(res), stored, len(unmatched), len([k for k in csv_keys if within(k, held)])))
sys.exit(1 if bad else 0)
EOF

for seed in $LIST; do
	G=$T/s$seed
	if ! sh "$TOP/tests/attribution/gen-batch" "$seed" "$G" >"$T/gen.log" 2>&1; then
		fail "seed $seed: generate the batch"; sed 's/^/#   /' "$T/gen.log"; continue
	fi
	"$TAYORI" submit -d "$D" --json "$G/batch" >"$G/report.json" 2>"$G/submit.err"; st=$?
	mkdir -p "$G/out"
	if $PY "$T/check.py" "$G/manifest.txt" "$G/report.json" "$st" "$TAYORI" "$D" "$G/out" >"$G/check.out" 2>&1; then
		ok "seed $seed: every stored notice holds its own pages and nobody else's ($(sed -n 's/^# seed checked: //p' "$G/check.out"))"
	else
		fail "seed $seed: attribution"
		sed 's/^/#   /' "$G/check.out" "$G/submit.err" | head -20
		sed 's/^/#   manifest: /' "$G/manifest.txt" | head -40
	fi
	# A long run keeps only the failures' files.
	[ -n "${KEEP:-}" ] || ! grep -q '^# seed checked' "$G/check.out" || [ "$(grep -vc '^#' "$G/check.out")" -ne 0 ] || rm -rf "$G"
done
done_testing
