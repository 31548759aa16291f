/* workers/notify: mail composition: user text never becomes a header; facts
 * are stated. */
#include "fb.h"

#include "notify.h"
#include "unit.h"

/* The header block: everything before the first empty line. */
static char *
headers_of(const char *msg)
{
	const char *end = strstr(msg, "\r\n\r\n");

	return end ? strndup(msg, (size_t)(end - msg) + 2) : strdup(msg);
}

static int
count(const char *s, const char *needle)
{
	int n = 0;

	for (; (s = strstr(s, needle)) != NULL; s++)
		n++;
	return n;
}

void
suite_notify(void)
{
	char *m, *h;

	m = notify_compose_mail("fb@example.org", "ada@example.org",
	    "Eve\r\nBcc: evil@example.com", "submission.decided", "ev-1", "dl-1",
	    "{\"submission_id\":\"s-1\",\"outcome\":\"rejected\",\"reason\":\"two\\nlines\","
	    "\"clause_keys\":[\"likeness\",\"conf\"]}",
	    "Title\r\nX-Injected: yes");
	h = headers_of(m);
	CHECK(strstr(h, "Bcc:") == NULL);
	CHECK(strstr(h, "\r\nX-Injected") == NULL);
	CHECK(count(h, "\r\n") == 8);                 /* exactly the 8 headers fairbeta writes */
	CHECK(strstr(h, "To: <ada@example.org>\r\n") != NULL);
	CHECK(strstr(h, "Subject: [fairbeta] A decision on your submission: Title  X-Injected: yes\r\n") != NULL);
	CHECK(strstr(m, "Hello Eve  Bcc: evil@example.com,") != NULL);
	CHECK(strstr(m, "Decision: rejected\r\n") != NULL);
	CHECK(strstr(m, "Reason: two\r\n  lines\r\n") != NULL);
	CHECK(strstr(m, "Clauses cited: likeness, conf\r\n") != NULL);
	CHECK(strstr(m, "Submission: Title\r\nX-Injected") == NULL);
	free(h);
	free(m);

	m = notify_compose_mail("fb@example.org", "ada@example.org", "Ada", "accrual.posted",
	    "ev-2", "dl-2", "{\"amount_minor\":2550,\"currency\":\"EUR\"}", NULL);
	CHECK(strstr(m, "Amount: 25.50 EUR\r\n") != NULL);
	free(m);
	m = notify_compose_mail("fb@example.org", "ada@example.org", "Ada", "accrual.posted",
	    "ev-3", "dl-3", "{\"amount_minor\":700,\"currency\":\"JPY\"}", "Caf\xc3\xa9");
	CHECK(strstr(m, "Amount: 700 JPY\r\n") != NULL);
	CHECK(strstr(m, "Subject: [fairbeta] =?UTF-8?B?") != NULL);   /* non-ASCII encoded */
	free(m);
}
