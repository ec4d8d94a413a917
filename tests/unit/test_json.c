/*
 * test_json.c — the JSON writer every --json output goes through (lib/util.c
 * json_fputs and json_member), and the two reports written with it, byte
 * for byte: batch_report_json (tayori submit --json, tayori batch show
 * --json) and pdf_verify_print_json (tayori pdf verify --json), with names
 * and values holding quotes, backslashes, controls, bidi overrides and
 * bytes that are not UTF-8.
 * Runs as a test program (cmocka).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/batch.h"
#include "pdf/pdf_verify.h"
#include "lib/util.h"

/* What call wrote into f, a memory stream, into out; the caller frees it. */
#define CAPTURE(out, call)                                                                      \
	do {                                                                                     \
		size_t capture_len_ = 0;                                                         \
		FILE *f = open_memstream(&(out), &capture_len_);                                 \
		assert_non_null(f);                                                              \
		call;                                                                            \
		assert_int_equal(fclose(f), 0);                                                  \
	} while (0)

/* The outputs as tayori wrote them before the reports used json_member. */
static const char want_batch_empty[] =
	"{\"batch\":null,\"status\":\"refused\",\"recipients\":0,\"matched\":0,\"unma"
	"tched_pdf_keys\":[],\"csv_rows_without_pdf\":[],\"invalid_emails\":[],\"no_e"
	"mail_rows\":[],\"duplicate_keys\":[],\"repeated_pdf_keys\":[],\"rows_held\":"
	"[],\"held_pdf_keys\":[],\"preview\":[],\"removed_active_content\":[],\"signe"
	"d\":0,\"test\":false,\"pages\":0,\"inferred\":{\"split\":\"\",\"key_column\""
	":\"\",\"name_column\":\"\",\"email_column\":\"\",\"key_width\":0,\"encoding\""
	":\"\"}}"
	"\n";
static const char want_batch_full[] =
	"{\"batch\":42,\"status\":\"draft\",\"recipients\":7,\"matched\":5,\"unmatche"
	"d_pdf_keys\":[\"K\\\"1\"],\"csv_rows_without_pdf\":[\"K\\\"1\",\"a\\\\b\"],\""
	"invalid_emails\":[\"K\\\"1\",\"a\\\\b\",\"line\\u000abreak\"],\"no_email_row"
	"s\":[\"K\\\"1\",\"a\\\\b\",\"line\\u000abreak\",\"\\u202eevil\"],\"duplicate"
	"_keys\":[\"K\\\"1\",\"a\\\\b\",\"line\\u000abreak\",\"\\u202eevil\",\"bad \\u"
	"fffd byte\"],\"repeated_pdf_keys\":[\"K\\\"1\",\"a\\\\b\",\"line\\u000abreak"
	"\",\"\\u202eevil\",\"bad \\ufffd byte\",\"令和\"],\"rows_held\":[\"K\\\"1\"],\""
	"held_pdf_keys\":[\"K\\\"1\",\"a\\\\b\"],\"preview\":[\"K\\\"1\",\"a\\\\b\",\""
	"line\\u000abreak\"],\"removed_active_content\":[\"K\\\"1\",\"a\\\\b\",\"line"
	"\\u000abreak\",\"\\u202eevil\",\"bad \\ufffd byte\",\"令和\"],\"signed\":5,\"t"
	"est\":true,\"pages\":10,\"inferred\":{\"split\":\"key \\\"\\\\d{8}\\\"\",\"k"
	"ey_column\":\"宛名番号\",\"name_column\":\"氏名\\u0009\",\"email_column\":\"mail\\u"
	"0001\",\"key_width\":8,\"encoding\":\"cp932\"},\"duplicate_of\":41,\"error\""
	":\"\\u2028refused \\\"x\\\"\"}"
	"\n";
static const char want_verify_empty[] =
	"{\"file\":\"no \\\"sig\\\".pdf\",\"valid\":false,\"revisions\":0,\"file_leng"
	"th\":0,\"dss\":null,\"signatures\":[]}"
	"\n";
static const char want_verify_full[] =
	"{\"file\":\"通知\\u007f.pdf\",\"valid\":false,\"revisions\":2,\"file_length\":"
	"123456,\"dss\":{\"certs\":3,\"crls\":1,\"ocsps\":2},\"signatures\":[{\"field"
	"\":\"Signature1 \\\"x\\\"\\\\\",\"type\":\"Sig\",\"subfilter\":\"ETSI.CAdES."
	"detached\",\"byte_range\":[0,100,200,300],\"byte_range_ok\":true,\"revision\""
	":1,\"covers_whole_file\":false,\"later_updates\":1,\"signer\":{\"cn\":\"中央区長"
	" \\u202e\",\"issuer\":\"CN=CA\\u000a,O=x\",\"serial\":\"01AB\"},\"signing_ti"
	"me\":\"D:20260401\",\"timestamp_time\":\"\",\"digest_ok\":true,\"signature_o"
	"k\":false,\"chain_ok\":null,\"timestamp_ok\":null,\"timestamp_trusted\":null,"
	"\"signing_certificate_v2\""
	":true,\"cms_signing_time\":false,\"level\":\"B-B\",\"valid\":false,\"error\""
	":\"bad \\ufffd signature\"},{\"field\":\"TS\",\"type\":\"DocTimeStamp\",\"su"
	"bfilter\":\"ETSI.RFC3161\",\"byte_range\":[0,0,0,0],\"byte_range_ok\":false,"
	"\"revision\":0,\"covers_whole_file\":true,\"later_updates\":0,\"signer\":{\""
	"cn\":\"\",\"issuer\":\"\",\"serial\":\"\"},\"signing_time\":\"\",\"timestamp"
	"_time\":\"20260401000000Z\",\"digest_ok\":false,\"signature_ok\":false,\"cha"
	"in_ok\":false,\"timestamp_ok\":true,\"timestamp_trusted\":true,\"level\":\"-\","
	"\"valid\":true,\"error\""
	":\"\"}]}"
	"\n";

static const char *const tricky[] = { "K\"1", "a\\b", "line\nbreak", ("\xe2\x80\xae" "evil"),
				      "bad \xff byte", "令和" };

static void fill_list(struct strlist *l, size_t n)
{
	l->v = (char **)tricky;
	l->n = n;
	l->cap = n;
}

static void test_batch_report(void **state)
{
	struct batch_report rep;
	char *out = NULL;
	(void)state;

	memset(&rep, 0, sizeof(rep));
	CAPTURE(out, batch_report_json(&rep, f));
	assert_string_equal(out, want_batch_empty);
	free(out);

	rep.batch = 42;
	snprintf(rep.status, sizeof(rep.status), "draft");
	rep.recipients = 7;
	rep.matched = 5;
	rep.signed_pdfs = 5;
	fill_list(&rep.unmatched_pdf_keys, 1);
	fill_list(&rep.csv_rows_without_pdf, 2);
	fill_list(&rep.invalid_emails, 3);
	fill_list(&rep.no_email_rows, 4);
	fill_list(&rep.duplicate_keys, 5);
	fill_list(&rep.repeated_pdf_keys, 6);
	fill_list(&rep.rows_held, 1);
	fill_list(&rep.held_pdf_keys, 2);
	fill_list(&rep.preview, 3);
	fill_list(&rep.removed_active_content, 6);
	snprintf(rep.split_rule, sizeof(rep.split_rule), "key \"\\d{8}\"");
	snprintf(rep.key_column, sizeof(rep.key_column), "宛名番号");
	snprintf(rep.name_column, sizeof(rep.name_column), "氏名\t");
	snprintf(rep.email_column, sizeof(rep.email_column), "mail\x01");
	rep.key_width = 8;
	snprintf(rep.encoding, sizeof(rep.encoding), "cp932");
	rep.pages = 10;
	rep.test = 1;
	rep.duplicate_of = 41;
	snprintf(rep.error, sizeof(rep.error), "\xe2\x80\xa8refused \"x\"");
	CAPTURE(out, batch_report_json(&rep, f));
	assert_string_equal(out, want_batch_full);
	free(out);
}

static void test_verify_report(void **state)
{
	struct pdf_sig_report sigs[2];
	struct pdf_verify_report r;
	char *out = NULL;
	(void)state;

	memset(&r, 0, sizeof(r));
	CAPTURE(out, pdf_verify_print_json(f, "no \"sig\".pdf", &r));
	assert_string_equal(out, want_verify_empty);
	free(out);

	memset(sigs, 0, sizeof(sigs));
	snprintf(sigs[0].field, sizeof(sigs[0].field), "Signature1 \"x\"\\");
	snprintf(sigs[0].type, sizeof(sigs[0].type), "Sig");
	snprintf(sigs[0].subfilter, sizeof(sigs[0].subfilter), "ETSI.CAdES.detached");
	sigs[0].byte_range[0] = 0;
	sigs[0].byte_range[1] = 100;
	sigs[0].byte_range[2] = 200;
	sigs[0].byte_range[3] = 300;
	sigs[0].byte_range_ok = 1;
	sigs[0].revision = 1;
	sigs[0].later_updates = 1;
	snprintf(sigs[0].signer_cn, sizeof(sigs[0].signer_cn), "中央区長 \xe2\x80\xae");
	snprintf(sigs[0].signer_issuer, sizeof(sigs[0].signer_issuer), "CN=CA\n,O=x");
	snprintf(sigs[0].signer_serial, sizeof(sigs[0].signer_serial), "01AB");
	snprintf(sigs[0].signing_time, sizeof(sigs[0].signing_time), "D:20260401");
	sigs[0].digest_ok = 1;
	sigs[0].signature_ok = 0;
	sigs[0].chain_ok = -1;
	sigs[0].timestamp_ok = -1;
	sigs[0].timestamp_trusted = -1;
	sigs[0].has_signing_cert_v2 = 1;
	sigs[0].level = "B-B";
	snprintf(sigs[0].error, sizeof(sigs[0].error), "bad \xff signature");
	snprintf(sigs[1].field, sizeof(sigs[1].field), "TS");
	snprintf(sigs[1].type, sizeof(sigs[1].type), "DocTimeStamp");
	snprintf(sigs[1].subfilter, sizeof(sigs[1].subfilter), "ETSI.RFC3161");
	sigs[1].covers_whole_file = 1;
	sigs[1].timestamp_ok = 1;
	sigs[1].timestamp_trusted = 1;
	snprintf(sigs[1].timestamp_time, sizeof(sigs[1].timestamp_time), "20260401000000Z");
	sigs[1].valid = 1;
	r.sigs = sigs;
	r.n = 2;
	r.revisions = 2;
	r.has_dss = 1;
	r.dss_certs = 3;
	r.dss_crls = 1;
	r.dss_ocsps = 2;
	r.file_len = 123456;
	CAPTURE(out, pdf_verify_print_json(f, "通知\x7f.pdf", &r));
	assert_string_equal(out, want_verify_full);
	free(out);
}

static void test_member(void **state)
{
	char *out = NULL;
	(void)state;
	CAPTURE(out, (fputc('{', f), json_member(f, "a", 1), fputs("1", f),
		      json_member(f, "b\"\\\n\xe2\x80\xae", 0), fputs("2}", f)));
	assert_string_equal(out, "{\"a\":1,\"b\\\"\\\\\\u000a\\u202e\":2}");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_member),
		cmocka_unit_test(test_batch_report),
		cmocka_unit_test(test_verify_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
