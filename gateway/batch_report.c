/*
 * batch_report.c — a batch's matching report (batch.h): its lists, and
 * how it is written for people (the CLI, the reply mail) and as JSON
 * (`tayori submit --json`, the stored record `tayori batch show` reads).
 * Runs in the gateway and in `tayori submit`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/batch_int.h"
#include "lib/util.h"

void batch_report_add(struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = xstrdup(s);
}

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void batch_report_free(struct batch_report *rep)
{
	strlist_free(&rep->unmatched_pdf_keys);
	strlist_free(&rep->csv_rows_without_pdf);
	strlist_free(&rep->invalid_emails);
	strlist_free(&rep->no_email_rows);
	strlist_free(&rep->duplicate_keys);
	strlist_free(&rep->repeated_pdf_keys);
	strlist_free(&rep->rows_held);
	strlist_free(&rep->held_pdf_keys);
	strlist_free(&rep->preview);
	strlist_free(&rep->removed_active_content);
}

static void json_list(FILE *f, const char *name, const struct strlist *l)
{
	json_member(f, name, 0);
	fputc('[', f);
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			fputc(',', f);
		json_fputs(f, l->v[i]);
	}
	fputc(']', f);
}

static void json_string(FILE *f, const char *name, const char *v, int first)
{
	json_member(f, name, first);
	json_fputs(f, v);
}

void batch_report_json(const struct batch_report *rep, FILE *f)
{
	fputc('{', f);
	json_member(f, "batch", 1);
	if (rep->batch)
		fprintf(f, "%llu", (unsigned long long)rep->batch);
	else
		fputs("null", f);
	json_string(f, "status", rep->status[0] ? rep->status : "refused", 0);
	json_member(f, "recipients", 0);
	fprintf(f, "%zu", rep->recipients);
	json_member(f, "matched", 0);
	fprintf(f, "%zu", rep->matched);
	json_list(f, "unmatched_pdf_keys", &rep->unmatched_pdf_keys);
	json_list(f, "csv_rows_without_pdf", &rep->csv_rows_without_pdf);
	json_list(f, "invalid_emails", &rep->invalid_emails);
	json_list(f, "no_email_rows", &rep->no_email_rows);
	json_list(f, "duplicate_keys", &rep->duplicate_keys);
	json_list(f, "repeated_pdf_keys", &rep->repeated_pdf_keys);
	json_list(f, "rows_held", &rep->rows_held);
	json_list(f, "held_pdf_keys", &rep->held_pdf_keys);
	json_list(f, "preview", &rep->preview);
	json_list(f, "removed_active_content", &rep->removed_active_content);
	json_member(f, "signed", 0);
	fprintf(f, "%zu", rep->signed_pdfs);
	json_member(f, "test", 0);
	fputs(rep->test ? "true" : "false", f);
	json_member(f, "pages", 0);
	fprintf(f, "%d", rep->pages);
	json_member(f, "inferred", 0);
	fputc('{', f);
	json_string(f, "split", rep->split_rule, 1);
	json_string(f, "key_column", rep->key_column, 0);
	json_string(f, "name_column", rep->name_column, 0);
	json_string(f, "email_column", rep->email_column, 0);
	json_member(f, "key_width", 0);
	fprintf(f, "%d", rep->key_width);
	json_string(f, "encoding", rep->encoding, 0);
	fputc('}', f);
	if (rep->duplicate_of != 0) {
		json_member(f, "duplicate_of", 0);
		fprintf(f, "%llu", (unsigned long long)rep->duplicate_of);
	}
	if (rep->error[0] != '\0')
		json_string(f, "error", rep->error, 0);
	fputs("}\n", f);
}

static void text_list(FILE *f, const char *title, const struct strlist *l)
{
	if (l->n == 0)
		return;
	fprintf(f, "  %s (%zu):", title, l->n);
	for (size_t i = 0; i < l->n && i < 20; i++)
		fprintf(f, " %s", l->v[i]);
	if (l->n > 20)
		fprintf(f, " ... and %zu more", l->n - 20);
	fputc('\n', f);
}

void batch_report_text(const struct batch_report *rep, FILE *f)
{
	if (rep->batch)
		fprintf(f, "batch %llu: %s%s\n", (unsigned long long)rep->batch, rep->status,
			rep->test ? " (TEST / テスト利用)" : "");
	fprintf(f, "  recipients (CSV rows): %zu, matched: %zu, signed PDFs: %zu\n", rep->recipients,
		rep->matched, rep->signed_pdfs);
	fprintf(f, "  split: %s; key column \"%s\", name \"%s\", e-mail \"%s\"; %s\n",
		rep->split_rule, rep->key_column, rep->name_column, rep->email_column, rep->encoding);
	text_list(f, "PDFs without a CSV row", &rep->unmatched_pdf_keys);
	text_list(f, "CSV rows without a PDF", &rep->csv_rows_without_pdf);
	text_list(f, "invalid addresses (paper)", &rep->invalid_emails);
	text_list(f, "rows without an address (paper)", &rep->no_email_rows);
	text_list(f, "duplicate keys (held back)", &rep->duplicate_keys);
	text_list(f, "keys in two separate page ranges (held back)", &rep->repeated_pdf_keys);
	text_list(f, "rows held back", &rep->rows_held);
	text_list(f, "keys on pages that could not be given to one resident (held back)",
		  &rep->held_pdf_keys);
	if (rep->removed_active_content.n > 0) {
		fprintf(f, "  active content removed before signing / 署名前に除去した動的要素:\n");
		for (size_t i = 0; i < rep->removed_active_content.n; i++)
			fprintf(f, "    %s\n", rep->removed_active_content.v[i]);
	}
	if (rep->preview.n > 0) {
		fprintf(f, "  preview of the first notices / 先頭の通知:\n");
		for (size_t i = 0; i < rep->preview.n; i++)
			fprintf(f, "    %s\n", rep->preview.v[i]);
	}
	if (rep->batch)
		fprintf(f, "  next: approve with `tayori batch approve %llu`\n",
			(unsigned long long)rep->batch);
}
