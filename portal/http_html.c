/*
 * http_html.c — HTML output of the portal's HTTP layer (see http.h):
 * escaping of text and attribute values (HTML Living Standard, "Serializing
 * HTML fragments"), URL percent-encoding (RFC 3986), the common page frame
 * and the one stylesheet, served at /static/style.css.  Runs in the portal
 * process.
 */
#include "portal/http.h"

#include <string.h>

#include "lib/text.h"

int http_html_n(struct buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = text_utf8_decode(p + i, len - i, &cp);
		const char *ent = NULL;
		int rc;
		if (n == 0) {
			rc = buf_append(b, "\xef\xbf\xbd", 3); /* U+FFFD */
			i++;
			if (rc < 0)
				return -1;
			continue;
		}
		switch (cp) {
		case '&': ent = "&amp;"; break;
		case '<': ent = "&lt;"; break;
		case '>': ent = "&gt;"; break;
		case '"': ent = "&quot;"; break;
		case '\'': ent = "&#39;"; break;
		default: break;
		}
		if (ent != NULL)
			rc = buf_append_str(b, ent);
		else if ((cp < 0x20 && cp != '\t' && cp != '\n') || (cp >= 0x7f && cp < 0xa0))
			rc = 0; /* controls: dropped */
		else
			rc = buf_append(b, p + i, n);
		if (rc < 0)
			return -1;
		i += n;
	}
	return 0;
}

int http_html(struct buf *b, const char *s)
{
	return http_html_n(b, s, strlen(s));
}

int http_url_encode(struct buf *b, const char *s)
{
	static const char hexd[] = "0123456789ABCDEF";
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		int rc;
		if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			rc = buf_append_u8(b, c);
		} else {
			char pct[3] = { '%', hexd[c >> 4], hexd[c & 15] };
			rc = buf_append(b, pct, 3);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

int http_page_begin(struct buf *b, const char *title, int test)
{
	if (buf_append_str(b, "<!doctype html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n"
			      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
			      "<title>") < 0 ||
	    http_html(b, title) < 0 ||
	    buf_append_str(b, "</title>\n<link rel=\"stylesheet\" href=\"/static/style.css\">\n"
			      "</head>\n<body>\n") < 0)
		return -1;
	if (test && buf_append_str(b, "<p class=\"test-banner\" role=\"note\">テスト"
				      "（この通知は試験用です。実際の通知ではありません）</p>\n") < 0)
		return -1;
	return buf_append_str(b, "<main>\n");
}

int http_page_end(struct buf *b)
{
	return buf_append_str(b, "</main>\n</body>\n</html>\n");
}

/* Plain and large: system fonts, 18 px base, one column that fits a
 * 360 px phone, visible focus, colours with at least 4.5:1 contrast. */
const char http_style_css[] =
	"*,*::before,*::after{box-sizing:border-box}\n"
	"html{font-size:112.5%;-webkit-text-size-adjust:100%;text-size-adjust:100%}\n"
	"body{margin:0;padding:0;color:#1a1a1a;background:#fff;line-height:1.7;\n"
	"  font-family:\"Hiragino Sans\",\"Hiragino Kaku Gothic ProN\",\"Yu Gothic UI\",\"Meiryo\",\n"
	"  \"Noto Sans CJK JP\",\"Noto Sans JP\",system-ui,sans-serif}\n"
	"main{max-width:40rem;margin:0 auto;padding:1rem}\n"
	"h1{font-size:1.5rem;line-height:1.4;margin:.5rem 0 1rem}\n"
	"h2{font-size:1.25rem;line-height:1.4;margin:1.5rem 0 .5rem}\n"
	"p,ul,ol,dl{margin:0 0 1rem}\n"
	"a{color:#0645ad;text-decoration:underline;text-underline-offset:.15em}\n"
	"a:visited{color:#5a2d91}\n"
	"a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,"
	"textarea:focus-visible{outline:3px solid #b35900;outline-offset:2px}\n"
	"label{display:block;font-weight:bold;margin:0 0 .25rem}\n"
	"input,select,textarea{font:inherit;width:100%;max-width:100%;padding:.6rem .7rem;\n"
	"  border:2px solid #555;border-radius:4px;background:#fff;color:#1a1a1a}\n"
	"input[type=checkbox],input[type=radio]{width:auto;transform:scale(1.4);margin:0 .6rem 0 .2rem}\n"
	"button,.button{display:inline-block;font:inherit;font-weight:bold;min-height:3rem;\n"
	"  padding:.6rem 1.4rem;border:2px solid #0b3d91;border-radius:6px;background:#0b3d91;\n"
	"  color:#fff;text-decoration:none;cursor:pointer;margin:.25rem 0}\n"
	"button.secondary,.button.secondary{background:#fff;color:#0b3d91}\n"
	"form{margin:0 0 1.5rem}\n"
	".field{margin:0 0 1rem}\n"
	".hint{color:#444;font-size:.9rem}\n"
	".error{color:#a00000;font-weight:bold}\n"
	".notice-box{border:2px solid #555;border-radius:6px;padding:1rem;margin:0 0 1rem}\n"
	".test-banner{margin:0;padding:.6rem 1rem;background:#ffe14d;color:#1a1a1a;\n"
	"  font-weight:bold;text-align:center;border-bottom:3px solid #1a1a1a}\n"
	"table{border-collapse:collapse;width:100%;margin:0 0 1rem}\n"
	"th,td{border:1px solid #777;padding:.4rem .5rem;text-align:left;vertical-align:top}\n"
	"pre,.message{white-space:pre-wrap;overflow-wrap:anywhere;font:inherit}\n"
	".scroll{overflow-x:auto;max-width:100%;margin:0 0 1rem}.scroll table{margin:0}\n"
	"table.wrap td{overflow-wrap:anywhere}\n"
	"code{overflow-wrap:anywhere}\n"
	"img{max-width:100%;height:auto}\n"
	"figure{margin:0 0 1.5rem}figure img{border:1px solid #777}\n"
	"figcaption{color:#444;font-size:.9rem}\n"
	"@media (max-width:400px){main{padding:.75rem}h1{font-size:1.35rem}"
	"button,.button{width:100%}}\n";
