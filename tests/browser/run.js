#!/usr/bin/env node
// tests/browser/run.js — the browser driver for sh integration tests: runs
// a list of steps in Debian's headless Chromium and prints one
// "ok - ..." / "not ok - ..." line per check (what tests/run-all counts).
// Stops at the first failed step (the later ones depend on it); exits 1
// then, 2 on a usage error, 0 when every step passed.  Runs in the test
// process only.
//
//   node tests/browser/run.js [--out DIR] [--name NAME] [--user-agent UA] STEP...
//
// Steps (one argument each; TARGET is a CSS selector such as '#code' or
// 'input[name=otp]', or the visible name of a button, link or the label of a
// field, e.g. '次へ'):
//   phone | desktop          new browser context (fresh cookies) at 360x740 or 1280x800
//   goto=URL                 load URL; fails on a status >= 400
//   goto-any=URL             load URL whatever its status (check it with status=)
//   status=N                 the last page load answered N
//   click=TARGET             click; fails if the page it leads to is >= 400
//   submit=TARGET            click a form's button, whatever status follows
//   fill=TARGET::VALUE       type VALUE into the field
//   tick=TARGET              tick a checkbox or choose a radio button (by label)
//   fillcmd=TARGET::COMMAND  type the output of a shell command (e.g. an OTP read from mail)
//   download=TARGET::PATH    click and save the download at PATH
//   upload=TARGET::FILE[,FILE...]  choose files in a file input (no dialog)
//   wait-text=STRING         wait until the page shows STRING, through the
//                            reloads of a page that refreshes itself
//   text=STRING              the page shows STRING
//   notext=STRING            the page does not show STRING
//   images                   the page has images and every one is shown
//   axe=LABEL                axe-core finds no violation
//   shot=LABEL               screenshot into the output folder
//   page=LABEL               all checks of a page: axe, no sideways scrolling,
//                            no CSP or script error, and a screenshot; with
//                            --story yes, at 1280x800 too
//                            (screenshots NN-NAME-LABEL.png, NN-NAME-LABEL-1280.png,
//                            numbered on from those already in the folder)
//   filename=NAME            the last download's suggested file name (RFC 6266) was NAME
//   keep=NAME                keep the current page open under NAME (a later phone
//                            or desktop step opens another context beside it)
//   use=NAME                 go back to the page kept as NAME (the current one
//                            is closed unless it is kept too)
//   watch=STRING             from now on, note the moment the page (live, without
//                            a reload) first shows STRING
//   appears=STRING           wait until the page shows STRING without a reload, and
//                            report how long after the start of the last click,
//                            submit or download (in any page) it appeared (when
//                            watched, the moment noted; else when it was seen)
//   url=FILE                 write the current URL into FILE
//   cookies=FILE             write the page's cookies as a Cookie header value into FILE
//   sleep=SECONDS            leave the page alone that long (a session's idle time-out)
// Options: --user-agent STRING (default: headless Chromium's own, which
// names HeadlessChrome; also BROWSER_USER_AGENT); --host-map NAME=IP[,...]
// resolves NAME to IP, so a test can use the site's real name on loopback
// (also BROWSER_HOST_MAP); --story yes numbers the screenshots across
// runs so that they tell a story in order, and checks every page at both
// sizes.
'use strict';
const fs = require('fs');
const path = require('path');
const { launch, shell } = require('./lib');
const WAIT_MS = Number(process.env.BROWSER_TIMEOUT_MS || 15000);

function usage(msg) {
	process.stderr.write(`run.js: ${msg}\nusage: node run.js [--out DIR] [--name NAME] [--user-agent UA] STEP...\n`);
	process.exit(2);
}

function two(arg, step) {
	const i = arg.indexOf('::');
	if (i < 0)
		usage(`step ${step} needs TARGET::VALUE, got "${arg}"`);
	return [arg.slice(0, i), arg.slice(i + 2)];
}

async function step(b, st, s) {
	const eq = s.indexOf('=');
	const op = eq < 0 ? s : s.slice(0, eq);
	const arg = eq < 0 ? '' : s.slice(eq + 1);
	const need = () => {
		if (!st.p)
			throw new Error(`step ${op} before any page (start with phone or desktop)`);
		return st.p;
	};
	switch (op) {
	case 'phone': case 'desktop':
		if (st.p && !Object.values(st.kept).includes(st.p))
			await st.p.close();
		st.p = await b.open(null, op);
		return `new ${op} context`;
	case 'goto': await need().goto(arg); return `GET ${arg} (${st.p.status})`;
	case 'goto-any': await need().goto(arg, undefined).catch(() => {}); return `GET ${arg}`;
	case 'status':
		if (need().status !== Number(arg))
			throw new Error(`${st.p.url()} answered ${st.p.status}, wanted ${arg}`);
		return `status ${arg}`;
	case 'click': st.mark = Date.now(); await need().click(arg); return `click "${arg}"`;
	case 'submit': st.mark = Date.now(); await need().submit(arg); return `submit "${arg}" (${st.p.status})`;
	case 'keep': st.kept[arg] = need(); return `page kept as ${arg}`;
	case 'use': {
		const p = st.kept[arg];
		if (!p)
			usage(`use=${arg}: no page kept under that name`);
		if (st.p && st.p !== p && !Object.values(st.kept).includes(st.p))
			await st.p.close();
		st.p = p;
		await p.page.bringToFront();
		return `back to the page kept as ${arg}`;
	}
	case 'watch':
		await need().page.evaluate((t) => {
			const seen = (window.__seen = window.__seen || {});
			const look = () => { if (!seen[t] && document.body.innerText.includes(t)) seen[t] = Date.now(); };
			look();
			new MutationObserver(look).observe(document.body,
				{ subtree: true, childList: true, characterData: true });
		}, arg);
		return `watching for "${arg}"`;
	case 'appears': {
		if (!st.mark)
			usage(`appears=${arg} before any click, submit or download`);
		const handle = await need().page.waitForFunction((t) => (window.__seen && window.__seen[t]) ||
			(document.body.innerText.includes(t) ? Date.now() : 0), arg, { timeout: WAIT_MS, polling: 10 });
		const at = await handle.jsonValue();
		return `"${arg}" appeared without a reload ${at - st.mark} ms after the last action`;
	}
	case 'tick': await need().tick(arg); return `tick "${arg}"`;
	case 'fill': { const [t, v] = two(arg, op); await need().fill(t, v); return `fill "${t}"`; }
	case 'fillcmd': { const [t, c] = two(arg, op); await need().fill(t, shell(c)); return `fill "${t}" from a command`; }
	case 'download': {
		const [t, dest] = two(arg, op);
		st.mark = Date.now();
		const name = await need().download(t, dest);
		st.filename = name;
		return `download "${t}" to ${path.basename(dest)} (suggested name ${name})`;
	}
	case 'upload': {
		const [t, list] = two(arg, op);
		const files = list.split(',');
		await need().upload(t, files);
		return `choose ${files.map((f) => path.basename(f)).join(', ')} in "${t}"`;
	}
	case 'wait-text': await need().waitText(arg); return `page comes to show "${arg}"`;
	case 'text': await need().expectText(arg); return `page shows "${arg}"`;
	case 'notext':
		if ((await need().text()).includes(arg))
			throw new Error(`${st.p.url()} shows "${arg}"`);
		return `page does not show "${arg}"`;
	case 'images': {
		const bad = await need().page.evaluate(() => Array.from(document.images)
			.filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.src));
		const n = await st.p.page.evaluate(() => document.images.length);
		if (bad.length > 0 || n === 0)
			throw new Error(`${st.p.url()}: ${n} image(s), not shown: ${bad.join(' ')}`);
		return `the page's ${n} image(s) are shown`;
	}
	case 'axe': await need().axe(arg); return `axe: no violation on ${arg} (${st.p.vp})`;
	case 'shot': return `screenshot ${path.basename(await need().shot(arg))}`;
	case 'page': {
		const sizes = await need().checkPage(arg);
		return `${arg} (${sizes.join(' and ')}): axe finds no violation, no sideways scrolling, no CSP error; screenshot kept`;
	}
	case 'filename':
		if (st.filename !== arg)
			throw new Error(`the download was named "${st.filename}", wanted "${arg}"`);
		return `the download is named "${arg}"`;
	case 'url': fs.writeFileSync(arg, need().url() + '\n'); return `URL saved`;
	case 'cookies': fs.writeFileSync(arg, (await need().cookieHeader()) + '\n'); return `cookies saved`;
	case 'sleep': {
		const n = Number(arg);
		if (!(n >= 0 && n <= 600)) throw new Error(`sleep=${arg}: seconds from 0 to 600`);
		await new Promise((r) => setTimeout(r, n * 1000));
		return `slept ${n}s (the page left alone)`;
	}
	default: usage(`unknown step "${s}"`);
	}
	return '';
}

async function main() {
	const argv = process.argv.slice(2);
	const opts = { name: 'browser' };
	while (argv.length > 0 && argv[0].startsWith('--')) {
		const o = argv.shift();
		if (argv.length === 0)
			usage(`${o} needs a value`);
		if (o === '--out')
			opts.outDir = argv.shift();
		else if (o === '--name')
			opts.name = argv.shift();
		else if (o === '--user-agent')
			opts.userAgent = argv.shift();
		else if (o === '--host-map')
			opts.hostMap = argv.shift();
		else if (o === '--story')
			opts.story = argv.shift() !== 'no';
		else
			usage(`unknown option ${o}`);
	}
	if (argv.length === 0)
		usage('no steps');
	let b;
	try {
		b = await launch(opts);
	} catch (err) {
		console.log(`not ok - ${opts.name}: start Chromium: ${err.message.split('\n')[0]}`);
		return 1;
	}
	const st = { p: null, kept: {}, mark: 0 };
	let rc = 0;
	for (const s of argv) {
		try {
			const what = await step(b, st, s);
			console.log(`ok - ${opts.name}: ${what}`);
		} catch (err) {
			console.log(`not ok - ${opts.name}: ${s}`);
			for (const line of String(err.message).split('\n'))
				console.log(`#   ${line}`);
			if (st.p) {
				// keep a picture of the failure too
				await st.p.shot('FAILED').then((f) => console.log(`#   screenshot: ${f}`)).catch(() => {});
			}
			rc = 1;
			break;
		}
	}
	await b.close();
	return rc;
}

main().then((rc) => process.exit(rc), (err) => {
	console.log(`not ok - browser driver: ${err.stack}`);
	process.exit(1);
});
