// tests/browser/lib.js — drives Debian's headless Chromium (never a browser
// that a tool downloads) through the resident portal for the browser tests,
// and checks each page with axe-core injected into it.  Runs in the test
// process only (Node), never in tayori.
//
//   const b = await launch({ outDir, name: 'flow' });
//   const p = await b.open('http://127.0.0.1:PORT/', 'phone');  // or 'desktop'
//   await p.fill('#code', 'ABCD-...'); await p.click('次へ');
//   await p.download('ダウンロード', '/tmp/x.pdf');
//   await p.axe('front');  // throws on any violation
//   await p.shot('front'); // OUTDIR/flow-NN-front-phone.png
//   await p.checkPage('front'); // axe, no sideways scrolling, CSP, screenshot
//   await b.close();
//
// Every failed check throws an Error whose message says what and where;
// run.js turns it into a "not ok" line.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// Without the networking flags Chromium keeps trying to reach the Internet.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync',
	'--disable-dev-shm-usage',
	// A page in a context behind another (the dashboard while a resident's
	// page is in front) must run as a visible one does, not be slowed to a
	// task a second: the live updates' latency is measured through it.
	'--disable-background-timer-throttling', '--disable-renderer-backgrounding',
	'--disable-backgrounding-occluded-windows'];
// A small phone (the 360 px) and a Windows 11 laptop.
const VIEWPORTS = {
	phone: { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
	desktop: { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, isMobile: false, hasTouch: false },
};
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const TIMEOUT = Number(process.env.BROWSER_TIMEOUT_MS || 15000);

// A page at one viewport, with the checks a test needs.
class Page {
	constructor(browser, context, page, vp) {
		this.b = browser;
		this.context = context;
		this.page = page;
		this.vp = vp;
		this.status = 0; // HTTP status of the last navigation
		this.cspErrors = [];
		page.on('console', (m) => {
			if (m.type() === 'error' && /Content Security Policy/i.test(m.text()))
				this.cspErrors.push(m.text());
		});
		page.on('pageerror', (err) => this.cspErrors.push('script error: ' + err.message));
	}

	url() { return this.page.url(); }

	// Go to url; fails on a status of 400 or more unless `expect` names it.
	async goto(url, expect) {
		const r = await this.page.goto(url, { waitUntil: 'load', timeout: TIMEOUT });
		this.status = r ? r.status() : 0;
		if (expect !== undefined ? this.status !== Number(expect) : this.status >= 400)
			throw new Error(`GET ${url} answered ${this.status}` +
				(expect !== undefined ? `, wanted ${expect}` : ''));
		return this;
	}

	// A target is a CSS selector (starting with # . [ or a tag name followed
	// by one of those) or else the visible text/label of a button, link or field.
	locate(target, kind) {
		if (/^[#.[]|^[a-z]+[#.[:]|^(input|button|a|select|textarea|form|main|h1|h2)$/.test(target) ||
		    target.startsWith('css='))
			return this.page.locator(target.replace(/^css=/, '')).first();
		if (kind === 'field')
			return this.page.getByLabel(target, { exact: false }).first();
		return this.page.getByRole('button', { name: target })
			.or(this.page.getByRole('link', { name: target })).first();
	}

	// Click a button or link and wait for the page it leads to, if any.
	async click(target) {
		const loc = this.locate(target, 'button');
		const nav = this.page.waitForNavigation({ timeout: TIMEOUT }).catch(() => null);
		await loc.click({ timeout: TIMEOUT });
		const r = await nav;
		if (r) {
			this.status = r.status();
			if (this.status >= 400)
				throw new Error(`clicking "${target}" led to ${this.page.url()} with status ${this.status}`);
		}
		return this;
	}

	// Like click, but the page it leads to may have any status (a lockout
	// page, a refused code); the status is in this.status.
	async submit(target) {
		const loc = this.locate(target, 'button');
		const [r] = await Promise.all([
			this.page.waitForNavigation({ timeout: TIMEOUT }),
			loc.click({ timeout: TIMEOUT }),
		]);
		this.status = r ? r.status() : 0;
		return this;
	}

	async fill(target, value) {
		await this.locate(target, 'field').fill(String(value), { timeout: TIMEOUT });
		return this;
	}

	// Tick a checkbox or choose a radio button (e.g. consent); no navigation.
	async tick(target) {
		await this.locate(target, 'field').check({ timeout: TIMEOUT });
		return this;
	}

	// Click what starts a download and save the file at dest; returns the
	// name the server suggested (Content-Disposition).
	async download(target, dest) {
		const [dl] = await Promise.all([
			this.page.waitForEvent('download', { timeout: TIMEOUT }),
			this.locate(target, 'button').click({ timeout: TIMEOUT }),
		]);
		fs.mkdirSync(path.dirname(path.resolve(dest)), { recursive: true });
		await dl.saveAs(dest);
		const failure = await dl.failure();
		if (failure)
			throw new Error(`download from "${target}" failed: ${failure}`);
		return dl.suggestedFilename();
	}

	// The cookies the browser holds for the current page, as a Cookie
	// header value ("a=1; b=2"), e.g. for a benchmark of an authenticated path.
	async cookieHeader() {
		const cs = await this.context.cookies(this.page.url());
		return cs.map((c) => `${c.name}=${c.value}`).join('; ');
	}

	async text() { return this.page.locator('body').innerText({ timeout: TIMEOUT }); }

	// Wait until the page shows s, through any reloads on the way (a page
	// that refreshes itself until a job is done); throws after TIMEOUT.
	async waitText(s) {
		const until = Date.now() + TIMEOUT;
		for (;;) {
			const t = await this.text().catch(() => '');
			if (t.includes(s))
				return this;
			if (Date.now() > until)
				throw new Error(`${this.page.url()} did not come to show "${s}"; it shows: ` +
					t.replace(/\s+/g, ' ').slice(0, 300));
			await this.page.waitForTimeout(200);
		}
	}

	// Choose files in a file input (playwright's setInputFiles): no dialog.
	async upload(target, files) {
		await this.locate(target, 'field').setInputFiles(files, { timeout: TIMEOUT });
		return this;
	}

	async expectText(s) {
		const t = await this.text();
		if (!t.includes(s))
			throw new Error(`${this.page.url()} does not show "${s}"; it shows: ` +
				t.replace(/\s+/g, ' ').slice(0, 300));
		return this;
	}

	// Run axe-core in the page (evaluated through the DevTools protocol, so
	// the page's own CSP stays as strict as it is).  Throws on any violation
	// with the rule, its WCAG tags and the offending elements.
	async axe(label) {
		await this.page.evaluate(AXE_SOURCE);
		const res = await this.page.evaluate(async () => {
			// eslint-disable-next-line no-undef
			const r = await axe.run(document, { resultTypes: ['violations'] });
			return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, tags: v.tags,
				nodes: v.nodes.map((n) => n.target.join(' ') + ' ' + n.html.slice(0, 120)) }));
		});
		const name = `${label || 'page'} (${this.vp})`;
		this.b.axeReport.push({ page: name, url: this.page.url(), violations: res });
		if (res.length > 0) {
			const lines = res.map((v) => `  ${v.id} [${v.impact}; ${v.tags.filter((t) => /^wcag|best/.test(t)).join(',')}]: ${v.help}\n` +
				v.nodes.map((n) => `      ${n}`).join('\n'));
			throw new Error(`axe: ${res.length} violation(s) on ${name} at ${this.page.url()}:\n${lines.join('\n')}`);
		}
		return this;
	}

	// The whole page as a PNG under the output folder; returns its path.
	// In a story (launch({ story: true })) the files are numbered across
	// runs in the same folder: NN-NAME-LABEL.png, and NN-NAME-LABEL-1280.png
	// for the same page at the desktop size (suffix '1280').
	async shot(label, suffix) {
		let file;
		if (this.b.story) {
			if (!suffix)
				this.b.storyNo = this.b.nextStoryNo();
			const n = String(this.b.storyNo).padStart(2, '0');
			file = path.join(this.b.outDir, `${n}-${this.b.name}-${label}${suffix ? '-' + suffix : ''}.png`);
		} else {
			this.b.shots += 1;
			const n = String(this.b.shots).padStart(2, '0');
			file = path.join(this.b.outDir, `${this.b.name}-${n}-${label}-${this.vp}.png`);
		}
		await this.page.screenshot({ path: file, fullPage: true, timeout: TIMEOUT });
		return file;
	}

	// All checks of a page: axe, no sideways scrolling, no CSP or script
	// error, a screenshot; in a story, the same again at 1280x800 (the
	// viewport resized in place, so the page is not loaded twice).
	async checkPage(label) {
		await this.axe(label);
		await this.expectNoSideScroll();
		this.checkConsole();
		await this.shot(label);
		if (!this.b.story || this.vp === 'desktop')
			return [this.vp];
		const small = this.page.viewportSize();
		const vp = this.vp;
		this.vp = 'desktop 1280x800';
		try {
			await this.page.setViewportSize(VIEWPORTS.desktop.viewport);
			await this.axe(label);
			await this.expectNoSideScroll();
			await this.shot(label, '1280');
		} finally {
			this.vp = vp;
			await this.page.setViewportSize(small);
		}
		return [vp, '1280x800'];
	}

	// The page must not be wider than its viewport (no sideways scrolling on
	// a phone).
	async expectNoSideScroll() {
		const w = await this.page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
		if (w[0] > w[1])
			throw new Error(`${this.page.url()} is ${w[0]} px wide in a ${w[1]} px viewport (${this.vp})`);
		return this;
	}

	// Fails when the page broke its own CSP or threw (a blocked inline style
	// or script shows up here).
	checkConsole() {
		if (this.cspErrors.length > 0)
			throw new Error(`${this.page.url()} (${this.vp}): ${this.cspErrors.join('; ')}`);
		return this;
	}

	async close() { await this.context.close(); }
}

class Browser {
	constructor(browser, opts) {
		this.browser = browser;
		this.outDir = opts.outDir;
		this.name = opts.name || 'browser';
		this.shots = 0;
		this.story = !!opts.story;
		this.storyNo = 0;
		this.axeReport = [];
		this.userAgent = opts.userAgent || process.env.BROWSER_USER_AGENT || '';
	}

	// A fresh context (its own cookies) with one page at viewport vp
	// ('phone' or 'desktop'), opened at url when given.
	async open(url, vp = 'phone') {
		if (!VIEWPORTS[vp])
			throw new Error(`unknown viewport ${vp} (phone or desktop)`);
		const o = { ...VIEWPORTS[vp], locale: 'ja-JP', timezoneId: 'Asia/Tokyo',
			acceptDownloads: true, serviceWorkers: 'block' };
		// Headless Chromium says "HeadlessChrome", as a mail scanner might;
		// a test of a person's click can pass a desktop Chrome's string.
		if (this.userAgent)
			o.userAgent = this.userAgent;
		const context = await this.browser.newContext(o);
		const p = new Page(this, context, await context.newPage(), vp);
		if (url)
			await p.goto(url);
		return p;
	}

	// The next number of a story: one more than the highest NN-*.png in
	// the output folder (so several runs tell one story in order).
	nextStoryNo() {
		let max = 0;
		for (const f of fs.readdirSync(this.outDir)) {
			const m = /^(\d\d)-.*\.png$/.exec(f);
			if (m)
				max = Math.max(max, Number(m[1]));
		}
		return max + 1;
	}

	async close() { await this.browser.close(); }
}

// Start Chromium.  outDir receives the screenshots; name prefixes them.
async function launch(opts = {}) {
	if (!fs.existsSync(CHROMIUM))
		throw new Error(`${CHROMIUM} not found (apt-get install chromium)`);
	const outDir = opts.outDir || path.join(__dirname, '..', '..', 'build', 'artefacts', 'screenshots');
	fs.mkdirSync(outDir, { recursive: true });
	// BROWSER_HOST_MAP="notice.example.lg.jp=127.0.0.1" lets a test use the
	// site's real name (as a resident's browser does) on loopback.
	const args = FLAGS.slice();
	const map = opts.hostMap || process.env.BROWSER_HOST_MAP || '';
	if (map) {
		const rules = map.split(',').map((m) => m.split('=')).map(([h, ip]) => `MAP ${h} ${ip}`);
		args.push(`--host-resolver-rules=${rules.join(', ')}`);
	}
	const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args,
		timeout: 30000 });
	return new Browser(browser, { ...opts, outDir });
}

// The output of a shell command, trimmed (e.g. to read an OTP from a mail).
function shell(cmd) {
	return execFileSync('/bin/sh', ['-c', cmd], { encoding: 'utf8', timeout: TIMEOUT }).trim();
}

module.exports = { launch, shell, VIEWPORTS, CHROMIUM };
