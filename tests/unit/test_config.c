/* lib/config: loading FAIRBETA_* from the environment, and masking secrets. */
#include "fb.h"

#include "config.h"
#include "unit.h"

void
suite_config(void)
{
	struct config cfg;
	fb_err err;
	char *m;
	json_t *j;

	unsetenv("FAIRBETA_THREADS");
	setenv("FAIRBETA_DATABASE_URL", "postgresql://u:secret@h/db", 1);
	setenv("FAIRBETA_DB_POOL", "7", 1);
	CHECK(config_load(&cfg, err) == 0);
	CHECK(cfg.db_pool == 7);
	CHECK(cfg.threads >= 1);
	CHECK(cfg.max_body == 1048576);
	CHECK_STR(cfg.listen, "127.0.0.1:8080");
	j = config_to_json(&cfg);
	CHECK(strstr(json_string_value(json_object_get(j, "FAIRBETA_DATABASE_URL")), "secret") == NULL);
	json_decref(j);
	config_free(&cfg);

	setenv("FAIRBETA_DB_POOL", "lots", 1);
	CHECK(config_load(&cfg, err) == -1 && strstr(err, "FAIRBETA_DB_POOL") != NULL);
	setenv("FAIRBETA_DB_POOL", "0", 1);
	CHECK(config_load(&cfg, err) == -1 && strstr(err, "FAIRBETA_DB_POOL") != NULL);
	setenv("FAIRBETA_DB_POOL", "4x", 1);
	CHECK(config_load(&cfg, err) == -1);
	unsetenv("FAIRBETA_DB_POOL");
	setenv("FAIRBETA_LOG_LEVEL", "loud", 1);
	CHECK(config_load(&cfg, err) == -1 && strstr(err, "FAIRBETA_LOG_LEVEL") != NULL);
	unsetenv("FAIRBETA_LOG_LEVEL");

	m = config_mask_url("postgresql://u:secret@h/db");
	CHECK_STR(m, "postgresql://u:***@h/db");
	free(m);
	m = config_mask_url("host=h password=secret");
	CHECK(strstr(m, "secret") == NULL);
	free(m);
	m = config_mask_url("postgresql:///db?host=/tmp");
	CHECK_STR(m, "postgresql:///db?host=/tmp");
	free(m);
}
