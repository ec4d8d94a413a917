/*
 * conf_sample.c — the documented sample tayori.conf that `tayori init` writes.
 * Every setting with its help, commented out at its default; conf/tayori.conf
 * is kept equal to it (see conf.h).
 * Runs in the command-line process (`tayori init`) and in the unit test
 * that regenerates conf/tayori.conf.
 */
#include "conf/conf_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the sample file -------------------------------------------------- */

/* One line saying what a value may be, for the sample. */
static void type_hint(const struct conf_setting *s, char *out, size_t outsize)
{
	char a[64], b[64], list[160];
	switch (s->type) {
	case CONF_STRING:
		if (s->max > 0)
			snprintf(out, outsize, "text, at most %lld bytes", (long long)s->max);
		else
			snprintf(out, outsize, "text");
		break;
	case CONF_INT:
		snprintf(out, outsize, "whole number, %lld to %lld", (long long)s->min, (long long)s->max);
		break;
	case CONF_BOOL:
		snprintf(out, outsize, "yes or no");
		break;
	case CONF_DURATION:
		conf_fmt_duration(s->min, a, sizeof(a));
		conf_fmt_duration(s->max, b, sizeof(b));
		snprintf(out, outsize, "duration such as 30s, 5m, 2h or 7d; %s to %s", a, b);
		break;
	case CONF_SIZE:
		conf_fmt_size(s->min, a, sizeof(a));
		conf_fmt_size(s->max, b, sizeof(b));
		snprintf(out, outsize, "size in bytes or with K, M or G such as 512K or 10M; %s to %s", a, b);
		break;
	case CONF_LISTEN:
		snprintf(out, outsize, "HOST:PORT, IPv6 as [::1]:8080");
		break;
	case CONF_URL:
		conf_choices_text(s->choices, "", "://", list, sizeof(list));
		snprintf(out, outsize, "URL starting with %s, no user name or password", list);
		break;
	case CONF_ENUM:
		conf_choices_text(s->choices, "", "", list, sizeof(list));
		snprintf(out, outsize, "one of %s", list);
		break;
	case CONF_PATH:
		snprintf(out, outsize, "path, relative to %s",
			 s->flags & CONF_DATA_REL ? "data_dir" : "the directory of this file");
		break;
	case CONF_EMAIL:
		snprintf(out, outsize, "mail address");
		break;
	case CONF_IDENT:
		snprintf(out, outsize, "a-z, 0-9, - and _, at most %lld characters", (long long)s->max);
		break;
	case CONF_ENVNAME:
		snprintf(out, outsize, "name of an environment variable");
		break;
	}
	if ((s->flags & CONF_OPTIONAL) && strlen(out) + 16 < outsize)
		memcpy(out + strlen(out), "; may be empty", 15);
}

/* A value as it must be written so that the parser reads it back. */
static int append_value(struct buf *b, const struct conf_setting *s, const char *v)
{
	size_t len = strlen(v);
	int quote = s->type == CONF_STRING || len == 0 || is_ws(v[0]) || is_ws(v[len - 1]) ||
		    v[0] == '"' || strchr(v, '#') != NULL;
	if (!quote)
		return buf_append_str(b, v);
	if (buf_append_u8(b, '"') < 0)
		return -1;
	for (const char *q = v; *q; q++) {
		if ((*q == '"' || *q == '\\') && buf_append_u8(b, '\\') < 0)
			return -1;
		if (buf_append_u8(b, (uint8_t)*q) < 0)
			return -1;
	}
	return buf_append_u8(b, '"');
}

static const char sample_head[] =
	"# tayori.conf — the settings of one tayori tenant (one ward office).\n"
	"# tayori.conf — テナント（区）ひとつ分の設定ファイルです。\n"
	"#\n"
	"# One \"key = value\" a line under a [section] header; \"#\" starts a comment.\n"
	"# Quote a value with \"...\" when it holds \"#\" or leading spaces; inside quotes\n"
	"# \\\" is a quote and \\\\ a backslash.  Unknown keys and duplicates are errors.\n"
	"# Relative paths are relative to data_dir, and data_dir is relative to the\n"
	"# directory holding this file.  Each setting shows its default; remove the\n"
	"# \"#\" in front of it to change it.  See tayori.conf(5).\n"
	"#\n"
	"# 書式：[セクション] の下に「キー = 値」を 1 行ずつ書きます。「#」以降はコメントです。\n"
	"# 各設定は既定値をコメントで示しています。変更するときは行頭の「#」を外してください。\n"
	"# 相対パスは data_dir から、data_dir はこのファイルのあるディレクトリから解釈されます。\n";

int conf_format_default(struct buf *b, const char *tenant_name, const char *tenant_id,
			struct error *e)
{
	int iname = conf_setting_or_abort("tenant", "name", "conf_format_default");
	int iid = conf_setting_or_abort("tenant", "id", "conf_format_default");
	char why[256], hint[320], shown[72];
	int64_t num;

	if (tenant_name == NULL)
		tenant_name = conf_schema_table[iname].def;
	if (tenant_id == NULL)
		tenant_id = conf_schema_table[iid].def;
	/* The same checks as the parser, so that the file loads again. */
	if (conf_utf8_bad((const unsigned char *)tenant_name, strlen(tenant_name)) < strlen(tenant_name))
		return err_set(e, "tenant name is not valid UTF-8");
	for (const char *q = tenant_name; *q; q++)
		if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
			return err_set(e, "tenant name must not contain control characters");
	if (conf_check_value(&conf_schema_table[iname], tenant_name, &num, why, sizeof(why)) < 0)
		return err_set(e, "tenant name %s", why);
	if (conf_check_value(&conf_schema_table[iid], tenant_id, &num, why, sizeof(why)) < 0)
		return err_set(e, "tenant id %s (got \"%s\")", why, conf_clip(tenant_id, shown, sizeof(shown)));

	if (buf_append_str(b, sample_head) < 0)
		goto full;
	for (size_t si = 0; si < NSEC; si++) {
		const struct conf_section *sec = &conf_section_table[si];
		if (buf_printf(b, "\n[%s]\n# %s\n# %s\n", sec->name, sec->help, sec->help_ja) < 0)
			goto full;
		for (size_t i = 0; i < NSET; i++) {
			const struct conf_setting *s = &conf_schema_table[i];
			const char *v = s->def;
			int set = 0;
			if (strcmp(s->section, sec->name) != 0)
				continue;
			if ((int)i == iname) {
				v = tenant_name;
				set = 1;
			} else if ((int)i == iid) {
				v = tenant_id;
				set = 1;
			}
			type_hint(s, hint, sizeof(hint));
			if (buf_printf(b, "\n# %s\n# %s\n# (%s)\n%s%s = ", s->help, s->help_ja, hint,
				       set ? "" : "#", s->key) < 0 ||
			    append_value(b, s, v) < 0 || buf_append_u8(b, '\n') < 0)
				goto full;
		}
	}
	return 0;
full:
	return err_tmp(e, "sample configuration does not fit in its buffer");
}

int conf_write_default(const char *path, const char *tenant_name, const char *tenant_id,
		       struct error *e)
{
	struct buf b;
	char tmp[CONF_PATH_MAX];
	const uint8_t *p;
	size_t left;
	int fd = -1, rc = -1;

	buf_init(&b, CONF_MAX_FILE);
	tmp[0] = '\0';
	if (conf_format_default(&b, tenant_name, tenant_id, e) < 0)
		goto out;
	if (str_fmt(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) < 0) {
		tmp[0] = '\0';
		err_set(e, "path too long: %s", path);
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		err_tmp(e, "cannot create %s: %s", tmp, strerror(errno));
		tmp[0] = '\0';
		goto out;
	}
	p = b.data;
	left = b.len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err_tmp(e, "cannot write %s: %s", tmp, w < 0 ? strerror(errno) : "short write");
			goto out;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		err_tmp(e, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		err_tmp(e, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	/* link(), unlike rename(), fails when path exists: never clobber a conf. */
	if (link(tmp, path) < 0) {
		if (errno == EEXIST)
			err_set(e, "%s already exists; not replacing it", path);
		else
			err_tmp(e, "cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0] != '\0')
		unlink(tmp);
	buf_free(&b);
	return rc;
}
