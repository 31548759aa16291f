#include "fb.h"

#include "crypto.h"
#include "migrate.h"

void
migrate_checksum(const struct migration *m, char out[65])
{
	crypto_sha256_hex(m->sql, m->len, out);
}

void
migrate_version(const struct migration *m, char *out, size_t outlen)
{
	size_t n = strcspn(m->name, "_");

	snprintf(out, outlen, "%.*s", (int)n, m->name);
}

enum migrate_state
migrate_compare(const PGresult *applied)
{
	int rows = PQntuples(applied);
	size_t i;

	for (i = 0; i < fb_migrations_count; i++) {
		char version[32], sum[65];

		if ((int)i >= rows)
			return MIGRATE_PENDING;
		migrate_version(&fb_migrations[i], version, sizeof(version));
		migrate_checksum(&fb_migrations[i], sum);
		if (strcmp(PQgetvalue(applied, (int)i, 0), version) != 0 ||
		    strcmp(PQgetvalue(applied, (int)i, 1), sum) != 0)
			return MIGRATE_MISMATCH;
	}
	/* The database is ahead of this binary: an older build against a newer schema. */
	return rows == (int)fb_migrations_count ? MIGRATE_CURRENT : MIGRATE_MISMATCH;
}
