/*
 * cmd_pdf.c — `tayori pdf`: the dispatcher of its commands, and pdf split.
 * (`tayori pdf sign` and `tayori pdf verify` are cmd_pdf_sign.c.)
 *
 * `tayori pdf split (--pages N | --key REGEX | --auto KEYS.csv) [--json]
 * [--password-env VAR] [--threads N] [--writers N] IN.pdf OUTDIR`
 * splits IN.pdf into OUTDIR/<key>.pdf, one file per resident, and prints
 * what matched and what did not.
 * Runs in the command-line process of the staff or administrator who
 * calls it, on their files.  Standards: RFC 8259 (the --json output); the
 * exit statuses of DESIGN.md (0 done, 1 refused, 2 usage, 3 internal).
 *
 * --threads: text extraction threads (default: one per CPU); --writers:
 * writer threads (default 2, each with its own qpdf handle on the input,
 * see pdf_split.h: the pages are all read before any file is written, so
 * two writers keep both cores of a small server busy while writing).
 *
 * Writes each file with mode 0600 (the PDFs hold personal data) straight
 * into OUTDIR, replacing a file of the same name: one for each resident
 * the plan gives pages to, never for a key held back or missing from the
 * CSV (pdf_split.h).  Files are not fsync'ed: this is a tool for looking
 * at a split, the product stores its PDFs in LMDB.  Nothing is written
 * when the input or any key is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib.h>
#include "lib/util.h"
#include "cmd/cli.h"
#include "gateway/csv.h"
#include "gateway/recipients.h"
#include "pdf/pdf_split.h"
#include "pdf/pdf_text.h"

#define EXIT_TMP EXIT_TEMP

static const char usage_text[] =
	"usage: tayori pdf split (--pages N | --key REGEX | --auto KEYS.csv) [--json]\n"
	"                        [--password-env VAR] [--threads N] [--writers N]\n"
	"                        IN.pdf OUTDIR\n";

/* A key is used as a file name: letters and digits (any script), - _ and
 * inner dots; no separators, controls, spaces or shell/Windows specials. */
static int safe_name(const char *key)
{
	size_t len = strlen(key);
	const char *p;

	if (len == 0 || len > PDF_KEY_MAX || !g_utf8_validate(key, (gssize)len, NULL))
		return 0;
	if (key[0] == '.' || key[0] == '-')
		return 0;
	for (p = key; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c < 0x80) {
			if (!g_ascii_isalnum((char)c) && c != '-' && c != '_' && c != '.')
				return 0;
		} else if (!g_unichar_isalnum(c)) {
			return 0;
		}
	}
	return 1;
}


static void json_strs(FILE *f, const char *name, char *const *v, size_t n)
{
	fprintf(f, ",\"%s\":[", name);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		json_fputs(f, v[i]);
	}
	fputc(']', f);
}

static void json_ints(FILE *f, const char *name, const int *v, size_t n)
{
	fprintf(f, ",\"%s\":[", name);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%d", i ? "," : "", v[i]);
	fputc(']', f);
}

/* One line on stderr; with --json also the object on stdout. */
static int refuse(int status, int json, const char *where, const char *msg)
{
	if (where)
		fprintf(stderr, "tayori: %s: %s\n", where, msg);
	else
		fprintf(stderr, "tayori: %s\n", msg);
	if (json) {
		fputs("{\"status\":\"refused\",\"error\":", stdout);
		json_fputs(stdout, msg);
		fputs("}\n", stdout);
	}
	return status;
}

struct out_ctx {
	int dirfd;
	pthread_mutex_t lock;   /* emit may run in several writer threads */
	GPtrArray *written;     /* file names written, to undo on failure */
	size_t bytes;
};

static int write_file(void *arg, const struct pdf_group *g, struct pdf_made *m,
		      struct error *e)
{
	const uint8_t *pdf = m->pdf.data;
	size_t len = m->pdf.len;
	struct out_ctx *c = arg;
	char name[PDF_KEY_MAX + 8];
	size_t off = 0;
	int fd;

	if (!safe_name(g->key) || str_fmt(name, sizeof name, "%s.pdf", g->key) < 0)
		return err_set(e, "the key found on page %d cannot be used as a file name (only "
				  "letters, digits, - _ and inner dots)", g->first_page);
	fd = openat(c->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_tmp(e, "cannot create %s: %s", name, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, pdf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int saved = errno;
			close(fd);
			return err_tmp(e, "cannot write %s: %s", name, strerror(saved));
		}
		off += (size_t)w;
	}
	if (close(fd) < 0)
		return err_tmp(e, "cannot write %s: %s", name, strerror(errno));
	pthread_mutex_lock(&c->lock);
	g_ptr_array_add(c->written, g_strdup(name));
	c->bytes += len;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* The keys to look for, from the CSV (its reader and column inference are
 * the same as the gateway's).  keys point into *rp. */
static int read_keys(const uint8_t *data, size_t len, struct recipients **rp, const char ***keys,
		     size_t *nkeys, char ***dups, size_t *ndups, struct error *e)
{
	struct csv_table *t = NULL;
	struct recipients_options ro;
	GHashTable *seen = NULL;
	int ret = -1;

	*rp = NULL;
	*keys = NULL;
	*nkeys = 0;
	*dups = NULL;
	*ndups = 0;
	if (csv_parse(data, len, NULL, &t, e) < 0)
		goto out;
	memset(&ro, 0, sizeof ro);
	ro.flags = RECIPIENTS_EMAIL_OPTIONAL;
	if (recipients_from_csv(t, &ro, rp, e) < 0)
		goto out;
	*keys = xcalloc((*rp)->n + 1, sizeof **keys);
	*dups = xcalloc((*rp)->n + 1, sizeof **dups);
	seen = g_hash_table_new(g_str_hash, g_str_equal);
	for (size_t i = 0; i < (*rp)->n; i++) {
		const struct recipient *r = &(*rp)->v[i];
		if (r->flags & (RCPT_EMPTY_KEY | RCPT_INVALID_KEY))
			continue;
		if (g_hash_table_contains(seen, r->key))
			continue;
		g_hash_table_add(seen, r->key);
		(*keys)[(*nkeys)++] = r->key;
		if (r->flags & RCPT_DUPLICATE_KEY)
			(*dups)[(*ndups)++] = r->key;
	}
	ret = 0;
out:
	if (seen)
		g_hash_table_destroy(seen);
	csv_free(&t);
	return ret;
}

/* What the command line asks of `tayori pdf split`. */
struct split_args {
	struct pdf_split_opts o;
	const char *csv_path, *in, *outdir, *mode_name;
	int json;
};

/* One option of the getopt loop.  0 to go on, or -1 with the exit status in
 * *status (0 after --help). */
static int split_option(int opt, struct split_args *a, int *nmodes, int *status)
{
	int64_t v;

	switch (opt) {
	case 'p':
		if (parse_int64(optarg, 1, 10000, &v) < 0) {
			fprintf(stderr, "tayori: pdf split: --pages wants a number of pages "
					"from 1 to 10000\n");
			*status = EXIT_USAGE;
			return -1;
		}
		a->o.mode = PDF_SPLIT_PAGES;
		a->o.pages_per_resident = (int)v;
		a->mode_name = "pages";
		(*nmodes)++;
		return 0;
	case 'k':
		a->o.mode = PDF_SPLIT_KEY;
		a->o.key_regex = optarg;
		a->mode_name = "key";
		(*nmodes)++;
		return 0;
	case 'a':
		a->o.mode = PDF_SPLIT_AUTO;
		a->csv_path = optarg;
		a->mode_name = "auto";
		(*nmodes)++;
		return 0;
	case 'j':
		a->json = 1;
		return 0;
	case 'P':
		a->o.password = getenv(optarg);
		if (!a->o.password) {
			fprintf(stderr, "tayori: pdf split: the environment variable %s "
					"(--password-env) is not set\n", optarg);
			*status = EXIT_USAGE;
			return -1;
		}
		return 0;
	case 't':
		if (parse_int64(optarg, 1, PDF_TEXT_THREADS_MAX, &v) < 0) {
			fprintf(stderr, "tayori: pdf split: --threads wants 1 to %d\n",
				PDF_TEXT_THREADS_MAX);
			*status = EXIT_USAGE;
			return -1;
		}
		a->o.threads = (int)v;
		return 0;
	case 'w':
		if (parse_int64(optarg, 1, PDF_TEXT_THREADS_MAX, &v) < 0) {
			fprintf(stderr, "tayori: pdf split: --writers wants 1 to %d\n",
				PDF_TEXT_THREADS_MAX);
			*status = EXIT_USAGE;
			return -1;
		}
		a->o.write_threads = (int)v;
		return 0;
	case 'd':
	case 'c':
		return 0; /* every subcommand takes them; split needs no tenant */
	case 'h':
		fputs(usage_text, stdout);
		*status = 0;
		return -1;
	default:
		fprintf(stderr, "tayori: pdf split: unknown option or missing value\n%s",
			usage_text);
		*status = EXIT_USAGE;
		return -1;
	}
}

/* The command line into *a.  0 to go on, or -1 with the exit status in
 * *status (2 for a usage error, 0 after --help). */
static int split_parse(int argc, char **argv, struct split_args *a, int *status)
{
	static const struct option longopts[] = {
		{ "pages", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "auto", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "password-env", required_argument, NULL, 'P' },
		{ "threads", required_argument, NULL, 't' },
		{ "writers", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int nmodes = 0, opt;

	memset(a, 0, sizeof *a);
	optind = 0; /* GNU: restart scanning, argv[0] is the subcommand */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+d:c:h", longopts, NULL)) != -1)
		if (split_option(opt, a, &nmodes, status) < 0)
			return -1;
	if (nmodes != 1 || argc - optind != 2) {
		fprintf(stderr, "tayori: pdf split: %s\n%s",
			nmodes != 1 ? "give exactly one of --pages, --key and --auto"
				    : "give IN.pdf and OUTDIR", usage_text);
		*status = EXIT_USAGE;
		return -1;
	}
	a->in = argv[optind];
	a->outdir = argv[optind + 1];
	if (a->o.write_threads == 0)
		a->o.write_threads = 2;
	if (a->o.mode == PDF_SPLIT_KEY) {
		GError *gerr = NULL;
		GRegex *re = g_regex_new(a->o.key_regex, 0, 0, &gerr);
		if (!re) {
			fprintf(stderr, "tayori: pdf split: --key is not a valid regular expression: "
					"%s\n", gerr->message);
			g_error_free(gerr);
			*status = EXIT_USAGE;
			return -1;
		}
		g_regex_unref(re);
	}
	return 0;
}

/* One run of `tayori pdf split`: what it read, wrote and found. */
struct split_run {
	struct out_ctx oc;
	struct pdf_split_result r;
	struct recipients *rcpt; /* --auto: the CSV's rows */
	const char **keys;       /* point into rcpt */
	char **dups;             /* point into rcpt */
	size_t nkeys, ndups;
	uint8_t *data;           /* IN.pdf */
	size_t len;
	int made_dir;            /* OUTDIR did not exist before */
};

/* Read the CSV and the PDF, make OUTDIR and write the files.  0, or the
 * exit status after saying why on stderr (and stdout with --json). */
static int split_work(struct split_args *a, struct split_run *s)
{
	struct error e = { "", 0 };
	int json = a->json;

	if (a->csv_path) {
		uint8_t *csv = NULL;
		size_t csvlen = 0;
		int rc;
		if (file_read_all(a->csv_path, CSV_DEFAULT_MAX_BYTES, &csv, &csvlen, &e) < 0)
			return refuse(e.temporary ? EXIT_TMP : EXIT_REFUSED, json, NULL, e.msg);
		rc = read_keys(csv, csvlen, &s->rcpt, &s->keys, &s->nkeys, &s->dups, &s->ndups, &e);
		free(csv);
		if (rc < 0)
			return refuse(e.temporary ? EXIT_TMP : EXIT_REFUSED, json, a->csv_path, e.msg);
		a->o.keys = s->keys;
		a->o.nkeys = s->nkeys;
	}
	if (file_read_all(a->in, PDF_INPUT_MAX, &s->data, &s->len, &e) < 0)
		return refuse(e.temporary ? EXIT_TMP : EXIT_REFUSED, json, NULL, e.msg);
	{
		struct stat st;
		s->made_dir = stat(a->outdir, &st) != 0;
	}
	if (mkdir_p(a->outdir, 0750, &e) < 0)
		return refuse(EXIT_TMP, json, NULL, e.msg);
	s->oc.dirfd = open(a->outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->oc.dirfd < 0) {
		char msg[ERR_MAX];
		str_fmt(msg, sizeof msg, "cannot open the folder: %s", strerror(errno));
		return refuse(EXIT_TMP, json, a->outdir, msg);
	}
	if (pdf_split_run(s->data, s->len, &a->o, write_file, &s->oc, &s->r, &e) < 0)
		return refuse(e.temporary ? EXIT_TMP : EXIT_REFUSED, json, a->in, e.msg);
	return 0;
}

/* --auto with --json: the CSV's keys that got no file (held back ones too,
 * since they go to paper like keys found nowhere), and the CSV's troubles. */
static void split_print_csv_json(FILE *f, const struct split_run *s)
{
	const struct pdf_split_result *r = &s->r;

	fputs(",\"csv_rows_without_pdf\":[", f);
	for (size_t i = 0; i < r->nmissing; i++) {
		if (i)
			fputc(',', f);
		json_fputs(f, r->missing_keys[i]);
	}
	for (size_t i = 0, n = r->nmissing; i < r->nholds; i++) {
		int again = 0;
		for (size_t j = 0; j < i; j++)
			again |= strcmp(r->holds[j].key, r->holds[i].key) == 0;
		if (again)
			continue;
		if (n++)
			fputc(',', f);
		json_fputs(f, r->holds[i].key);
	}
	fputc(']', f);
	json_strs(f, "unmatched_pdf_keys", r->unmatched_keys, r->nunmatched);
	json_strs(f, "duplicate_keys", s->dups, s->ndups);
}

/* The --json report on stdout: one object, one line. */
static void split_print_json(const struct split_args *a, const struct split_run *s)
{
	const struct pdf_split_result *r = &s->r;
	FILE *f = stdout;

	fprintf(f, "{\"status\":\"ok\",\"mode\":\"%s\",\"pages\":%d", a->mode_name, r->info.pages);
	if (s->rcpt)
		fprintf(f, ",\"recipients\":%zu", s->rcpt->n);
	fprintf(f, ",\"matched\":%zu,\"files\":[", r->ngroups);
	for (size_t i = 0; i < r->ngroups; i++) {
		fputs(i ? ",{\"key\":" : "{\"key\":", f);
		json_fputs(f, r->groups[i].key);
		fputs(",\"found\":", f);
		json_fputs(f, r->groups[i].found);
		fprintf(f, ",\"first_page\":%d,\"page_count\":%d}", r->groups[i].first_page,
			r->groups[i].page_count);
	}
	fputc(']', f);
	json_ints(f, "unmatched_pages", r->keyless_pages, r->nkeyless);
	json_ints(f, "ambiguous_pages", r->ambiguous_pages, r->nambiguous);
	json_strs(f, "repeated_keys", r->repeated_keys, r->nrepeated);
	fputs(",\"held\":[", f);
	for (size_t i = 0; i < r->nholds; i++) {
		fputs(i ? ",{\"key\":" : "{\"key\":", f);
		json_fputs(f, r->holds[i].key);
		fprintf(f, ",\"page\":%d}", r->holds[i].page);
	}
	fputc(']', f);
	if (s->rcpt)
		split_print_csv_json(f, s);
	if (r->key_label) {
		fputs(",\"key_label\":", f);
		json_fputs(f, r->key_label);
	}
	fprintf(f, ",\"repaired\":%s}\n", r->info.repaired ? "true" : "false");
}

/* The text report on stdout: one line. */
static void split_print_text(const struct split_args *a, const struct split_run *s)
{
	const struct pdf_split_result *r = &s->r;

	printf("tayori: %s: %d pages, %zu PDFs written to %s", a->in, r->info.pages,
	       (size_t)s->oc.written->len, a->outdir);
	if (r->nkeyless)
		printf("; %zu pages without a key went with the page before", r->nkeyless);
	if (r->nambiguous)
		printf("; %zu pages show several keys", r->nambiguous);
	if (r->nrepeated)
		printf("; %zu keys found in separate page ranges held back", r->nrepeated);
	if (r->nholds)
		printf("; %zu keys held back by pages that show several residents' keys",
		       r->nholds);
	if (r->nunmatched)
		printf("; %zu keys not in the CSV (their pages written nowhere)",
		       r->nunmatched);
	if (s->rcpt)
		printf("; %zu CSV keys not found", r->nmissing);
	if (r->info.repaired)
		printf("; the input was repaired");
	putchar('\n');
}

int cmd_pdf_split(int argc, char **argv)
{
	struct split_args a;
	struct split_run s;
	int status;

	if (split_parse(argc, argv, &a, &status) < 0)
		return status;
	memset(&s, 0, sizeof s);
	s.oc.dirfd = -1;
	s.oc.written = g_ptr_array_new_with_free_func(g_free);
	pthread_mutex_init(&s.oc.lock, NULL);
	status = split_work(&a, &s);
	if (status == 0 && a.json)
		split_print_json(&a, &s);
	else if (status == 0)
		split_print_text(&a, &s);
	if (status != 0 && s.oc.dirfd >= 0) {
		/* Nothing stays behind from a refused or failed run. */
		for (guint i = 0; i < s.oc.written->len; i++)
			unlinkat(s.oc.dirfd, g_ptr_array_index(s.oc.written, i), 0);
	}
	if (s.oc.dirfd >= 0)
		close(s.oc.dirfd);
	if (status != 0 && s.made_dir)
		rmdir(a.outdir);
	g_ptr_array_free(s.oc.written, TRUE);
	pthread_mutex_destroy(&s.oc.lock);
	pdf_split_result_free(&s.r);
	free(s.data);
	free(s.keys);
	free(s.dups);
	recipients_free(&s.rcpt);
	return status;
}

/* `tayori pdf split | sign | verify` (sign and verify: cmd_pdf_sign.c). */
int cmd_pdf(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "split") == 0)
		return cmd_pdf_split(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "sign") == 0)
		return cmd_pdf_sign(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return cmd_pdf_verify(argc - 1, argv + 1);
	return cli_usage("tayori pdf split | sign | verify ... (see tayori --help)");
}
