/* api/idem: which Idempotency-Key values are well formed (idem_key_valid):
 * 1..IDEM_KEY_MAX bytes, each printable ASCII 0x21..0x7e. */
#include "fb.h"

#include "idem.h"
#include "unit.h"

void
suite_idem(void)
{
	char key[IDEM_KEY_MAX + 2];

	CHECK(!idem_key_valid(""));                  /* empty */
	CHECK(idem_key_valid("a"));                  /* 1 character */
	CHECK(idem_key_valid("!"));                  /* 0x21, the lowest allowed */
	CHECK(idem_key_valid("~"));                  /* 0x7e, the highest allowed */

	memset(key, 'k', IDEM_KEY_MAX);
	key[IDEM_KEY_MAX] = '\0';
	CHECK(strlen(key) == 200 && idem_key_valid(key));           /* 200: the most */
	key[IDEM_KEY_MAX] = 'k';
	key[IDEM_KEY_MAX + 1] = '\0';
	CHECK(strlen(key) == 201 && !idem_key_valid(key));          /* 201: one too many */

	CHECK(!idem_key_valid(" "));                 /* a space alone */
	CHECK(!idem_key_valid("order 42"));          /* a space inside */
	CHECK(!idem_key_valid("order-42 "));         /* a trailing space */
	CHECK(!idem_key_valid("order\t42"));         /* a tab */
	CHECK(!idem_key_valid("order\x7f"));         /* DEL 0x7f */
	CHECK(!idem_key_valid("\x7f"));
	CHECK(!idem_key_valid("caf\xc3\xa9"));       /* é: non-ASCII bytes */
	CHECK(!idem_key_valid("\x80"));              /* one non-ASCII byte */
	CHECK(!idem_key_valid("a\r\nb"));            /* CR LF */

	/* every printable ASCII punctuation character */
	CHECK(idem_key_valid("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"));
	CHECK(idem_key_valid("3f2b9c1e-7d4a-4c1b-9e8f-0a1b2c3d4e5f"));  /* a UUID */
}
