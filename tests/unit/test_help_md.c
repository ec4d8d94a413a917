/*
 * test_help_md.c — unit tests of portal/help_md.c, the Markdown subset the
 * administrator's guide is written in: headings shifted under the page's
 * h1, paragraphs, - and 1. lists with indented continuation and code
 * blocks, ``` blocks, `code` spans; and that nothing in the text becomes
 * markup (a tag, an attribute, an entity is escaped wherever it stands).
 * Also that the guide embedded in the binary is contrib/admin-guide.md.
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

#include "lib/buf.h"
#include "portal/page_staff_help.h"

static void renders(const char *md, const char *want)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(help_md_html(&b, md, 1), 0);
	assert_int_equal(buf_append_u8(&b, 0), 0);
	assert_string_equal((const char *)b.data, want);
	buf_free(&b);
}

static void test_blocks(void **state)
{
	(void)state;
	renders("# 題\n\n本文の\n続き\n", "<h2>題</h2>\n<p>本文の\n続き</p>\n");
	renders("## 2. 節\n### 2.1 小節\n", "<h3>2. 節</h3>\n<h4>2.1 小節</h4>\n");
	renders("- 一\n- 二\n  続き\n\n後\n", "<ul>\n<li>一</li>\n<li>二\n続き</li>\n</ul>\n<p>後</p>\n");
	renders("1. 一\n\n   ```\n   cmd -x\n   ```\n\n2. 二\n",
		"<ol>\n<li>一<pre><code>cmd -x\n</code></pre>\n</li>\n<li>二</li>\n</ol>\n");
	renders("```\na\n  b\n```\n", "<pre><code>a\n  b\n</code></pre>\n");
	renders("`tayori run` を使う\n", "<p><code>tayori run</code> を使う</p>\n");
	renders("#見出しでない\n", "<p>#見出しでない</p>\n");
}

static void test_escaped(void **state)
{
	(void)state;
	renders("<script>alert(1)</script>\n", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n");
	renders("# <b>x</b> & \"y\"\n", "<h2>&lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot;</h2>\n");
	renders("`<img src=x onerror=alert(1)>`\n",
		"<p><code>&lt;img src=x onerror=alert(1)&gt;</code></p>\n");
	renders("```\n</code></pre><script>\n```\n",
		"<pre><code>&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;\n</code></pre>\n");
	renders("- [a](javascript:alert(1))\n", "<ul>\n<li>[a](javascript:alert(1))</li>\n</ul>\n");
	renders("an `unclosed code\n", "<p>an `unclosed code</p>\n");
}

static void test_embedded_is_the_guide(void **state)
{
	FILE *f = fopen("contrib/admin-guide.md", "rb");
	char *text = calloc(1, 1 << 20);
	size_t n;

	(void)state;
	if (f == NULL)
		skip(); /* run from the top of the tree, as make check does */
	n = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	assert_true(n > 1000);
	assert_string_equal(help_admin_guide_md, text);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_escaped),
		cmocka_unit_test(test_embedded_is_the_guide),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
