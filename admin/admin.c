/*
 * admin.c: what every subcommand of the admin tool shares.
 */
#include "fb.h"

#include "admin.h"

PGconn *
admin_connect(const char *appname)
{
	const char *url = getenv("FAIRBETA_DATABASE_URL");
	const char *keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { url, appname, NULL };
	PGconn *pg;

	if (url == NULL || *url == '\0') {
		fprintf(stderr, "fairbeta: FAIRBETA_DATABASE_URL is not set\n");
		return NULL;
	}
	pg = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "fairbeta: cannot connect: %s", PQerrorMessage(pg));
		PQfinish(pg);
		return NULL;
	}
	return pg;
}
