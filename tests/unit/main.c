#include "fb.h"

#include "crypto.h"
#include "unit.h"

int unit_passed, unit_failed;

int
main(void)
{
	if (crypto_init() != 0)
		return 2;
	suite_arena();
	suite_config();
	suite_crypto();
	suite_csv();
	suite_currency();
	suite_email();
	suite_idem();
	suite_jsonv();
	suite_jv_schema();
	suite_jv_repeats();
	suite_jv_check_items();
	suite_notify();
	suite_pipeline();
	suite_repr_time();
	suite_request_if_match();
	suite_request_sqlstate();
	suite_router();
	suite_router_escapes();
	suite_routes_table();
	suite_routes_schemas();
	suite_urlcheck();
	suite_valid();
	suite_valid_precision();
	suite_valid_slug_key();
	printf("unit: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
