#include "fb.h"

#include "crypto.h"
#include "unit.h"

int unit_passed, unit_failed;

int
main(void)
{
	if (crypto_init() != 0)
		return 2;
	suite_router();
	suite_hardening();
	suite_jsonv();
	suite_config();
	suite_crypto();
	suite_valid();
	suite_email();
	suite_arena();
	suite_programs();
	suite_jv_repeats();
	suite_jv_check_items();
	suite_notify();
	suite_csv();
	suite_schemas();
	suite_jv_schema();
	suite_repr_time();
	printf("unit: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
