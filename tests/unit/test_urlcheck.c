/* lib/urlcheck: where webhooks may point. */
#include "fb.h"

#include "urlcheck.h"
#include "unit.h"

void
suite_urlcheck(void)
{
	CHECK(urlcheck_webhook("https://hooks.example.org/x", false) == NULL);
	CHECK(urlcheck_webhook("ftp://hooks.example.org/x", false) != NULL);
	CHECK(urlcheck_webhook("HTTPS://hooks.example.org/x", false) != NULL);
	CHECK(urlcheck_webhook("not a url", false) != NULL);
	CHECK(urlcheck_webhook("http://127.0.0.1:8080/x", false) != NULL);
	CHECK(urlcheck_webhook("http://127.0.0.1:8080/x", true) == NULL);
	CHECK(urlcheck_webhook("http://10.1.2.3/x", false) != NULL);
	CHECK(urlcheck_webhook("http://172.20.0.1/x", false) != NULL);
	CHECK(urlcheck_webhook("http://172.32.0.1/x", false) == NULL);
	CHECK(urlcheck_webhook("http://192.168.1.1/x", false) != NULL);
	CHECK(urlcheck_webhook("http://169.254.169.254/latest", false) != NULL);
	CHECK(urlcheck_webhook("http://localhost:9/x", false) != NULL);
	CHECK(urlcheck_webhook("http://[::1]/x", false) != NULL);
	CHECK(urlcheck_webhook("http://[fd00::1]/x", false) != NULL);
	CHECK(urlcheck_webhook("http://[2001:db8::1]/x", false) == NULL);
	CHECK(urlcheck_webhook("http://127.1/x", false) != NULL);
	CHECK(urlcheck_webhook("http://2130706433/x", false) != NULL);
	CHECK(urlcheck_webhook("http://0.0.0.0/x", false) != NULL);
	CHECK(urlcheck_webhook("http://[::ffff:127.0.0.1]/x", false) != NULL);
	CHECK(urlcheck_webhook("http://100.64.0.1/x", false) != NULL);
}
