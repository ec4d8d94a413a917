/*
 * conf.c — tayori.conf's strict parser, its cross-checks and accessors.
 * The line parser, the checks of settings that go together, path
 * resolution and the typed accessors (see conf.h and tayori.conf(5)); the
 * schema is conf_schema.c, the value checks conf_value.c, the sample writer
 * conf_sample.c.
 * Runs in every process: the supervisor and the CLI load the file; each
 * role reads its settings.
 * Standards: UTF-8 (RFC 3629) text.
 *
 * The parser is strict on purpose: a typo in a key, a duplicate or a value
 * of the wrong shape stops the start with "FILE:LINE: what is wrong", since a
 * silently ignored setting (a TLS key, a listen address) is worse than a
 * refusal to start.
 */
#include "conf/conf_int.h"
#include "lib/passwd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct conf {
	char *file;     /* absolute path (conf_load) or the name (conf_parse) */
	char **str;     /* [NSET] value text: as written or the default */
	char **path;    /* [NSET] CONF_PATH: resolved absolute path ("" when unset) */
	int64_t *num;   /* [NSET] numeric value of int, duration, size, bool, enum */
	int *line;      /* [NSET] line that set it; 0: default */
};

/* ---- "did you mean" --------------------------------------------------- */

/* Levenshtein distance, case-insensitive, for "did you mean"; big when long. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[65], prev[65];
	if (la > 64 || lb > 64)
		return 1000;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			int ca = a[i - 1], cb = b[j - 1];
			if (ca >= 'A' && ca <= 'Z')
				ca += 'a' - 'A';
			if (cb >= 'A' && cb <= 'Z')
				cb += 'a' - 'A';
			size_t best = prev[j - 1] + (ca != cb);
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
		}
		memcpy(prev, row, (lb + 1) * sizeof(row[0]));
	}
	return prev[lb];
}

static int close_enough(const char *typed, const char *known)
{
	size_t d = edit_distance(typed, known);
	return d <= 2 && d * 3 <= strlen(known);
}

/* ---- paths ------------------------------------------------------------ */

/*
 * rel made absolute against base (rel as is when absolute), with "."
 * components and repeated slashes removed.  ".." is kept: removing it
 * lexically is wrong when a component is a symbolic link.
 */
static char *path_join(const char *base, const char *rel)
{
	size_t blen = rel[0] == '/' ? 0 : strlen(base);
	size_t rlen = strlen(rel);
	char *in = xmalloc(blen + rlen + 2), *out = xmalloc(blen + rlen + 2);
	size_t o = 0;
	const char *p;

	if (blen > 0)
		memcpy(in, base, blen);
	in[blen] = '/';
	memcpy(in + blen + 1, rel, rlen + 1);
	p = in;
	while (*p) {
		size_t n;
		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.')) {
			p += n;
			continue;
		}
		out[o++] = '/';
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	free(in);
	return out;
}

/* dir made absolute with the current directory; NULL on failure (errno). */
static char *absolute(const char *dir)
{
	char cwd[CONF_PATH_MAX];
	if (dir != NULL && dir[0] == '/')
		return path_join("/", dir);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return NULL;
	return path_join(cwd, dir != NULL ? dir : ".");
}

/* ---- the parser ------------------------------------------------------- */

struct parser {
	struct conf *c;
	const char *name;
	int line;
	int section; /* index into conf_section_table; -1 before any header */
	struct error *e;
};

static int perr_at(struct parser *p, int line, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int perr_at(struct parser *p, int line, const char *fmt, ...)
{
	char msg[ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		return err_set(p->e, "%s:%d: %s", p->name, line, msg);
	return err_set(p->e, "%s: %s", p->name, msg);
}

/* " (did you mean ...?)" or " (it belongs in [x])" for an unknown key. */
static void key_hint(const char *section, const char *key, char *out, size_t outsize)
{
	char where[128] = "";
	size_t used = 0;
	const char *best = NULL;
	size_t bestd = 1000;

	out[0] = '\0';
	for (size_t i = 0; i < NSET; i++) {
		const struct conf_setting *s = &conf_schema_table[i];
		if (strcmp(s->key, key) == 0 && strcmp(s->section, section) != 0) {
			int w = snprintf(where + used, sizeof(where) - used, "%s[%s]",
					 used ? " or " : "", s->section);
			if (w > 0 && (size_t)w < sizeof(where) - used)
				used += (size_t)w;
		}
	}
	if (used > 0) {
		snprintf(out, outsize, " (it belongs in %s)", where);
		return;
	}
	for (size_t i = 0; i < NSET; i++) {
		const struct conf_setting *s = &conf_schema_table[i];
		if (strcmp(s->section, section) == 0 && close_enough(key, s->key)) {
			size_t d = edit_distance(key, s->key);
			if (d < bestd) {
				bestd = d;
				best = s->key;
			}
		}
	}
	if (best != NULL)
		snprintf(out, outsize, " (did you mean \"%s\"?)", best);
}

static int parse_section(struct parser *p, char *s)
{
	char *close = strchr(s, ']'), *name = s + 1, *end, *rest;
	char shown[72];
	int idx;

	if (close == NULL)
		return perr_at(p, p->line, "section header is missing the closing ]");
	rest = close + 1;
	while (is_ws(*rest))
		rest++;
	if (*rest != '\0' && *rest != '#')
		return perr_at(p, p->line, "unexpected text after the section header");
	while (is_ws(*name))
		name++;
	end = close;
	while (end > name && is_ws(end[-1]))
		end--;
	*end = '\0';
	if (*name == '\0')
		return perr_at(p, p->line, "empty section name");
	for (char *q = name; *q; q++)
		if (!is_alnum(*q) && *q != '_' && *q != '-')
			return perr_at(p, p->line, "invalid section name [%s]",
				       conf_clip(name, shown, sizeof(shown)));
	idx = conf_find_section(name);
	if (idx < 0) {
		const char *best = NULL;
		size_t bestd = 1000;
		for (size_t i = 0; i < NSEC; i++) {
			size_t d = edit_distance(name, conf_section_table[i].name);
			if (close_enough(name, conf_section_table[i].name) && d < bestd) {
				bestd = d;
				best = conf_section_table[i].name;
			}
		}
		conf_clip(name, shown, sizeof(shown));
		if (best != NULL)
			return perr_at(p, p->line, "unknown section [%s] (did you mean [%s]?)", shown, best);
		return perr_at(p, p->line, "unknown section [%s]", shown);
	}
	p->section = idx;
	return 0;
}

/*
 * The value after '=': quoted ("..." with \" and \\) or bare up to a '#'
 * that follows whitespace.  Unescapes in place; *out points into s.
 */
static int parse_value(struct parser *p, char *s, char **out)
{
	while (is_ws(*s))
		s++;
	if (*s == '"') {
		char *i = s + 1, *o = s;
		for (;;) {
			if (*i == '\0')
				return perr_at(p, p->line, "quoted value is missing its closing \"");
			if (*i == '\\') {
				if (i[1] != '"' && i[1] != '\\') {
					if ((unsigned char)i[1] > 0x20 && (unsigned char)i[1] < 0x7f)
						return perr_at(p, p->line,
							       "unknown escape \\%c in a quoted value (only \\\" and \\\\)",
							       i[1]);
					return perr_at(p, p->line,
						       "unknown escape in a quoted value (only \\\" and \\\\)");
				}
				*o++ = i[1];
				i += 2;
				continue;
			}
			if (*i == '"')
				break;
			*o++ = *i++;
		}
		*o = '\0';
		i++;
		while (is_ws(*i))
			i++;
		if (*i != '\0' && *i != '#')
			return perr_at(p, p->line, "unexpected text after the closing quote");
		*out = s;
		return 0;
	}
	{
		char *q = s, *end;
		while (*q && !(*q == '#' && (q == s || is_ws(q[-1]))))
			q++;
		end = q;
		while (end > s && is_ws(end[-1]))
			end--;
		*end = '\0';
		*out = s;
	}
	return 0;
}

static int parse_assignment(struct parser *p, char *s)
{
	char *eq = strchr(s, '='), *key = s, *kend, *value = NULL, *dot;
	const char *section;
	char shown[72], shown_v[72], hint[160], why[256];
	int idx;
	int64_t num;
	const struct conf_setting *set;

	if (eq == NULL)
		return perr_at(p, p->line, "expected \"key = value\" or \"[section]\"");
	kend = eq;
	while (kend > key && is_ws(kend[-1]))
		kend--;
	*kend = '\0';
	if (*key == '\0')
		return perr_at(p, p->line, "missing key before =");
	for (char *q = key; *q; q++)
		if (!is_alnum(*q) && *q != '_' && *q != '-' && *q != '.')
			return perr_at(p, p->line, "invalid key name \"%s\"", conf_clip(key, shown, sizeof(shown)));
	if (parse_value(p, eq + 1, &value) < 0)
		return -1;

	/* "section.key = value" before any header is the flat form of a key. */
	dot = strchr(key, '.');
	if (p->section < 0) {
		int sidx;
		if (dot == NULL)
			return perr_at(p, p->line,
				       "key \"%s\" is outside any section: put it under a [section] header",
				       conf_clip(key, shown, sizeof(shown)));
		*dot = '\0';
		sidx = conf_find_section(key);
		if (sidx < 0)
			return perr_at(p, p->line, "unknown section [%s]", conf_clip(key, shown, sizeof(shown)));
		section = conf_section_table[sidx].name;
		key = dot + 1;
	} else {
		if (dot != NULL)
			return perr_at(p, p->line, "invalid key name \"%s\" (no dots inside a section)",
				       conf_clip(key, shown, sizeof(shown)));
		section = conf_section_table[p->section].name;
	}

	idx = conf_find_setting(section, key);
	if (idx < 0) {
		key_hint(section, key, hint, sizeof(hint));
		return perr_at(p, p->line, "unknown key \"%s\" in section [%s]%s",
			       conf_clip(key, shown, sizeof(shown)), section, hint);
	}
	set = &conf_schema_table[idx];
	if (p->c->line[idx] > 0)
		return perr_at(p, p->line, "duplicate key \"%s\" in section [%s] (first set on line %d)",
			       key, section, p->c->line[idx]);
	if (conf_check_value(set, value, &num, why, sizeof(why)) < 0) {
		/* A bad variable name is often the secret itself: never echo it. */
		if (set->type == CONF_ENVNAME)
			return perr_at(p, p->line, "value of %s %s", key, why);
		return perr_at(p, p->line, "value of %s %s (got \"%s\")", key, why,
			       conf_clip(value, shown_v, sizeof(shown_v)));
	}
	free(p->c->str[idx]);
	p->c->str[idx] = xstrdup(value);
	p->c->num[idx] = num;
	p->c->line[idx] = p->line;
	return 0;
}

/* One line, NUL-terminated, already checked for bytes and UTF-8. */
static int parse_line(struct parser *p, char *s)
{
	while (is_ws(*s))
		s++;
	if (*s == '\0' || *s == '#')
		return 0;
	if (*s == '[')
		return parse_section(p, s);
	return parse_assignment(p, s);
}

static int idx_of(const char *section, const char *key)
{
	return conf_setting_or_abort(section, key, "conf");
}

/* The later of two lines that set something (0 when neither). */
static int line_of(const struct conf *c, int a, int b)
{
	return c->line[a] > c->line[b] ? c->line[a] : c->line[b];
}

/* A listen host on loopback (127.0.0.0/8, ::1, ::ffff:127.x, localhost),
 * where plain HTTP behind a local TLS proxy is allowed. */
static int loopback_host(const char *h)
{
	unsigned char a[16];
	static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (strcmp(h, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, h, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, h, a) == 1)
		return (memcmp(a, v4mapped, 12) == 0 && a[12] == 127) ||
		       (memcmp(a, v4mapped, 10) == 0 && a[10] == 0 && a[11] == 0 &&
			a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] == 1);
	return 0;
}

/* Without tls_cert the portal refuses to listen off loopback: say so at
 * load time, naming the line (`tayori conf check` first of all). */
static int check_plain_listen(struct parser *p, int cert)
{
	struct conf *c = p->c;
	static const char *const keys[] = { "resident_listen", "staff_listen" };
	char h[256];
	int port;

	if (c->str[cert][0] != '\0')
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		int k = idx_of("portal", keys[i]);
		if (conf_listen_split(c->str[k], h, sizeof(h), &port) == 0 && !loopback_host(h))
			return perr_at(p, c->line[k],
				       "%s = %s: TLS is required on an address other than loopback "
				       "(set tls_cert and tls_key, or listen on 127.0.0.1 behind a TLS "
				       "proxy); the portal refuses to start so",
				       keys[i], c->str[k]);
	}
	return 0;
}

/* Settings that only make sense together. */
static int cross_check(struct parser *p)
{
	struct conf *c = p->c;
	int cert = idx_of("portal", "tls_cert"), key = idx_of("portal", "tls_key");
	int imap = idx_of("mail", "imap_url"), user = idx_of("mail", "imap_user");
	int pass = idx_of("mail", "imap_password_env");
	int mod = idx_of("signing", "pkcs11_module"), tok = idx_of("signing", "pkcs11_token");
	int lvl = idx_of("signing", "level"), tsa = idx_of("signing", "tsa_url");
	int tsaca = idx_of("signing", "tsa_ca_file");
	int rl = idx_of("portal", "resident_listen"), sl = idx_of("portal", "staff_listen");
	char h1[256], h2[256];
	int p1 = 0, p2 = 0;

	if ((c->str[cert][0] == '\0') != (c->str[key][0] == '\0'))
		return perr_at(p, line_of(c, cert, key),
			       "tls_cert and tls_key must be set together (or both left empty)");
	if (c->str[imap][0] != '\0' && c->str[user][0] == '\0')
		return perr_at(p, c->line[imap], "imap_url is set but imap_user is empty");
	if (c->str[imap][0] != '\0' && c->str[pass][0] == '\0')
		return perr_at(p, c->line[imap], "imap_url is set but imap_password_env is empty");
	if (c->str[mod][0] != '\0' && c->str[tok][0] == '\0')
		return perr_at(p, c->line[mod], "pkcs11_module is set but pkcs11_token is empty");
	if (c->num[lvl] > 0 && c->str[tsa][0] == '\0')
		return perr_at(p, c->line[lvl], "level %s needs a time-stamp authority: set tsa_url",
			       c->str[lvl]);
	if (c->str[tsa][0] != '\0' && c->str[tsaca][0] == '\0')
		return perr_at(p, c->line[tsa],
			       "tsa_url is set but tsa_ca_file is empty: time stamps must be checked "
			       "against the TSA's CA certificates");
	{
		int am = idx_of("security", "argon2_memory_kib");
		int at = idx_of("security", "argon2_iterations");
		struct passwd_params pp = { (unsigned)c->num[am], (unsigned)c->num[at] };
		struct error pe = { { 0 }, 0 };
		if (passwd_params_check(&pp, &pe) < 0)
			return perr_at(p, line_of(c, am, at), "%s", pe.msg);
	}
	if (conf_listen_split(c->str[rl], h1, sizeof(h1), &p1) == 0 &&
	    conf_listen_split(c->str[sl], h2, sizeof(h2), &p2) == 0 && p1 == p2 &&
	    (strcmp(h1, h2) == 0 || strcmp(h1, "0.0.0.0") == 0 || strcmp(h2, "0.0.0.0") == 0 ||
	     strcmp(h1, "::") == 0 || strcmp(h2, "::") == 0))
		return perr_at(p, line_of(c, rl, sl),
			       "resident_listen and staff_listen must not share an address");
	return check_plain_listen(p, cert);
}

/* Absolute forms of every CONF_PATH setting; data_dir first. */
static int resolve_paths(struct parser *p, const char *base_dir)
{
	struct conf *c = p->c;
	int dd = idx_of("paths", "data_dir");

	c->path[dd] = path_join(base_dir, c->str[dd]);
	if (strlen(c->path[dd]) >= CONF_PATH_MAX)
		return perr_at(p, c->line[dd], "data_dir is too long once made absolute");
	for (size_t i = 0; i < NSET; i++) {
		const struct conf_setting *s = &conf_schema_table[i];
		if (s->type != CONF_PATH || (int)i == dd)
			continue;
		if (c->str[i][0] == '\0')
			c->path[i] = xstrdup("");
		else
			c->path[i] = path_join(s->flags & CONF_DATA_REL ? c->path[dd] : base_dir,
					       c->str[i]);
		if (strlen(c->path[i]) >= CONF_PATH_MAX)
			return perr_at(p, c->line[i] ? c->line[i] : c->line[dd],
				       "path of %s is too long once made absolute", s->key);
	}
	return 0;
}

/* An empty conf: one slot per row of the schema. */
static struct conf *conf_new(const char *name)
{
	struct conf *c = xcalloc(1, sizeof(*c));
	c->file = xstrdup(name);
	c->str = xcalloc(NSET, sizeof(c->str[0]));
	c->path = xcalloc(NSET, sizeof(c->path[0]));
	c->num = xcalloc(NSET, sizeof(c->num[0]));
	c->line = xcalloc(NSET, sizeof(c->line[0]));
	return c;
}

int conf_parse(const char *text, size_t len, const char *name, const char *base_dir,
	       struct conf **out, struct error *e)
{
	struct parser p = { .name = name, .section = -1, .e = e };
	struct conf *c = conf_new(name);
	char *base = NULL;
	char line[CONF_MAX_LINE + 1];
	size_t pos = 0;
	int rc = -1;

	*out = NULL;
	p.c = c;
	for (size_t i = 0; i < NSET; i++) {
		char why[256];
		c->str[i] = xstrdup(conf_schema_table[i].def);
		if (conf_check_value(&conf_schema_table[i], c->str[i], &c->num[i], why, sizeof(why)) < 0) {
			fprintf(stderr, "tayori: default of [%s] %s %s\n", conf_schema_table[i].section,
				conf_schema_table[i].key, why);
			abort();
		}
	}
	if (len > CONF_MAX_FILE) {
		perr_at(&p, 0, "file is larger than 1 MiB (%zu bytes)", len);
		goto out;
	}
	/* A UTF-8 byte order mark, as Windows Notepad may write, is not text. */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *start = text + pos, *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos, bad;

		pos += n + (nl != NULL);
		p.line++;
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (n > CONF_MAX_LINE) {
			perr_at(&p, p.line, "line is longer than %d bytes", CONF_MAX_LINE);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)start[i];
			if (ch == '\0') {
				perr_at(&p, p.line, "NUL byte in the line");
				goto out;
			}
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
				perr_at(&p, p.line, "control character 0x%02X in the line", ch);
				goto out;
			}
		}
		bad = conf_utf8_bad((const unsigned char *)start, n);
		if (bad < n) {
			perr_at(&p, p.line, "invalid UTF-8 at byte %zu of the line", bad + 1);
			goto out;
		}
		memcpy(line, start, n);
		line[n] = '\0';
		if (parse_line(&p, line) < 0)
			goto out;
	}
	if (cross_check(&p) < 0)
		goto out;
	base = absolute(base_dir);
	if (base == NULL) {
		err_tmp(e, "%s: cannot find the current directory: %s", name, strerror(errno));
		goto out;
	}
	if (resolve_paths(&p, base) < 0)
		goto out;
	*out = c;
	c = NULL;
	rc = 0;
out:
	free(base);
	conf_free(&c);
	return rc;
}

int conf_load(const char *path, struct conf **out, struct error *e)
{
	uint8_t *data = NULL;
	size_t len = 0;
	char *abs = NULL, *dir = NULL, *slash;
	struct stat st;
	int rc = -1;

	*out = NULL;
	/* Say "too large" in our own words before reading anything. */
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > CONF_MAX_FILE) {
		err_set(e, "%s: file is larger than 1 MiB (%lld bytes)", path, (long long)st.st_size);
		goto out;
	}
	if (file_read_all(path, CONF_MAX_FILE, &data, &len, e) < 0)
		goto out;
	abs = absolute(path);
	if (abs == NULL) {
		err_tmp(e, "%s: cannot find the current directory: %s", path, strerror(errno));
		goto out;
	}
	dir = xstrdup(abs);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (conf_parse((const char *)data, len, path, dir, out, e) < 0)
		goto out;
	free((*out)->file);
	(*out)->file = abs;
	abs = NULL;
	rc = 0;
out:
	free(data);
	free(abs);
	free(dir);
	return rc;
}

void conf_free(struct conf **cp)
{
	struct conf *c;
	if (cp == NULL || *cp == NULL)
		return;
	c = *cp;
	for (size_t i = 0; i < NSET; i++) {
		free(c->str[i]);
		free(c->path[i]);
	}
	free(c->str);
	free(c->path);
	free(c->num);
	free(c->line);
	free(c->file);
	free(c);
	*cp = NULL;
}

/* ---- accessors -------------------------------------------------------- */

const char *conf_str(const struct conf *c, const char *section, const char *key)
{
	return c->str[conf_setting_or_abort(section, key, "conf_str")];
}

int64_t conf_int(const struct conf *c, const char *section, const char *key)
{
	int i = conf_setting_or_abort(section, key, "conf_int");
	switch (conf_schema_table[i].type) {
	case CONF_INT:
	case CONF_BOOL:
	case CONF_DURATION:
	case CONF_SIZE:
	case CONF_ENUM:
		return c->num[i];
	default:
		fprintf(stderr, "tayori: conf_int: [%s] %s is not a number\n", section, key);
		abort();
	}
}

int conf_is_set(const struct conf *c, const char *section, const char *key)
{
	return c->line[conf_setting_or_abort(section, key, "conf_is_set")] > 0;
}

int conf_path(const struct conf *c, const char *section, const char *key, char *out,
	      size_t outsize)
{
	int i = conf_setting_or_abort(section, key, "conf_path");
	if (conf_schema_table[i].type != CONF_PATH) {
		fprintf(stderr, "tayori: conf_path: [%s] %s is not a path\n", section, key);
		abort();
	}
	if (str_copy(out, c->path[i], outsize) >= outsize) {
		if (outsize > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

const char *conf_file(const struct conf *c)
{
	return c->file;
}
