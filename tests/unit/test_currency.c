/* lib/currency: ISO 4217 codes and their minor-unit exponents. */
#include "fb.h"

#include "currency.h"
#include "unit.h"

void
suite_currency(void)
{
	/* ISO 4217 */
	CHECK(currency_valid("EUR"));
	CHECK(currency_valid("USD"));
	CHECK(currency_valid("AED"));        /* first */
	CHECK(currency_valid("ZWG"));        /* last */
	CHECK(!currency_valid("eur"));
	CHECK(!currency_valid("XYZ"));
	CHECK(!currency_valid("EU"));
	CHECK(!currency_valid("EURO"));
	CHECK(!currency_valid(""));
	CHECK(!currency_valid(NULL));
	CHECK(currency_exponent("EUR") == 2);
	CHECK(currency_exponent("JPY") == 0);
	CHECK(currency_exponent("KWD") == 3);
	CHECK(currency_exponent("XXX") == -1);
}
