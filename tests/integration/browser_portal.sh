#!/bin/sh
# The resident portal in a real browser: `tayori run` on a demo tenant, its
# front page opened in Debian's headless Chromium at a 360 px phone and at a
# 1280x800 desktop, checked with axe-core (zero violations), no sideways
# scrolling, no CSP error; screenshots kept under build/artefacts/screenshots.
# Also checks that the driver (tests/browser/run.js) does fail on a page
# with a violation, so that a green line here means something.
# Skipped only when /usr/bin/chromium is missing (contrib/install-deps
# --test installs it and the npm packages).
. "$(dirname "$0")/lib.sh"
browser_setup browser_portal
rm -f "$SHOTS"/driver_selftest-*.png
browse() { node "$DRIVER" --out "$SHOTS" "$@"; }

# 1. The driver itself fails on a page with an axe violation and a CSP
# error, and passes the same page once it is fixed.
cat > "$T/bad.html" <<'EOF'
<!doctype html><html><head><title>x</title></head><body>
<main><h1>x</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></body></html>
EOF
browse --name driver_selftest desktop "goto=file://$T/bad.html" axe=bad >"$T/selftest.out" 2>&1; st=$?
check "the driver fails on a page with axe violations" sh -c "[ $st -eq 1 ]"
check "... and names the rules broken (image-alt, html-has-lang)" \
	sh -c "grep -q 'image-alt' '$T/selftest.out' && grep -q 'html-has-lang' '$T/selftest.out'"
sed -e 's/<html>/<html lang="en">/' -e 's/<img /<img alt="dot" /' "$T/bad.html" > "$T/good.html"
browse --name driver_selftest desktop "goto=file://$T/good.html" page=good >"$T/selftest2.out" 2>&1; st=$?
check "... and passes the same page fixed" sh -c "[ $st -eq 0 ]"
[ $st -eq 0 ] || sed 's/^/#   /' "$T/selftest2.out"

# 2. The portal's front page.
D=$T/var
demo_ports 0
demo_tenant >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill $SUP; sleep 1; pkill -9 -P $SUP; kill -9 $SUP"
check "the resident portal answers" wait_for 15 curl -fsS "http://127.0.0.1:$P1/healthz"
URL=http://127.0.0.1:$P1/

# Every step prints its own ok/not ok line; each viewport is its own run,
# so that a failure at one still lets the other be checked.
browse --name browser_portal phone "goto=$URL" text=オンライン通知 page=front || _nfail=$((_nfail + 1))
browse --name browser_portal desktop "goto=$URL" text=オンライン通知 page=front || _nfail=$((_nfail + 1))
check "the screenshots are kept" sh -c "ls '$SHOTS'/browser_portal-*-front-phone.png '$SHOTS'/browser_portal-*-front-desktop.png"
done_testing
