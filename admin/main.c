/*
 * fairbeta: the admin tool.
 *
 *   fairbeta migrate
 *   fairbeta admin create-user --email E --role R --display-name N   (password on stdin)
 *   fairbeta admin check-ledger
 *   fairbeta version
 */
#include "fb.h"

#include <getopt.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "admin.h"
#include "check_ledger.h"
#include "migrations.h"
#include "crypto.h"
#include "email.h"
#include "valid.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: fairbeta migrate\n"
	    "       fairbeta admin create-user --email EMAIL --role admin|staff|finance|artist"
	    " --display-name NAME\n"
	    "                 (the password is read from standard input, or asked for on a terminal)\n"
	    "       fairbeta admin check-ledger\n"
	    "                 (exit 0: consistent; 1: violations, one per line; 2: could not check)\n"
	    "       fairbeta version\n"
	    "settings: FAIRBETA_DATABASE_URL\n");
}

/* Reads one line; on a terminal without echo. Returns 0 or -1. */
static int
read_password(const char *prompt, char *buf, size_t len)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO);
	int rc = -1;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	if (fgets(buf, (int)len, stdin) != NULL) {
		buf[strcspn(buf, "\r\n")] = '\0';
		rc = 0;
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	return rc;
}

/* Does nothing on a clash with any unique address form (lib/email.h). */
static const char SQL_INSERT[] =
	"INSERT INTO users (id, email, password_hash, display_name, role, email_norm,"
	" email_skeleton) VALUES ($1, lower($2), $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
	" RETURNING email";

/*
 * Why the address cannot have an account, or NULL: compares it with the
 * accounts not yet given a normalized form (the unique indexes cannot see
 * them), else asks which index an INSERT that did nothing met.
 */
static const char *
email_taken(PGconn *pg, const struct email_identity *addr, bool inserted_nothing)
{
	static const char *const why[] = {
		[EMAIL_CLASH_NONE] = NULL,
		[EMAIL_CLASH_TAKEN] = "a user with this email already exists",
		[EMAIL_CLASH_CONFUSABLE] = "this email looks like the email of an existing user",
	};
	enum email_clash c = EMAIL_CLASH_NONE;
	PGresult *r;

	if (inserted_nothing) {
		r = PQexecParams(pg, EMAIL_SQL_CLASH, 3, NULL,
		    (const char *[]){ addr->norm, addr->skel, addr->addr }, NULL, NULL, 0);
		c = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		    PQgetvalue(r, 0, EMAIL_CLASH_COL_TAKEN)[0] == 'f' ? EMAIL_CLASH_CONFUSABLE : EMAIL_CLASH_TAKEN;
	} else {
		r = PQexec(pg, EMAIL_SQL_PENDING);
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			c = email_clash_rows(addr, r, 0);
	}
	PQclear(r);
	return why[c];
}

static const char SQL_AUDIT[] =
	"INSERT INTO audit_log (actor_id, actor_role, action, entity_type, entity_id,"
	" after, request_id) VALUES (NULL, 'system', 'user.create', 'user', $1, $2, $3)";

static int
cmd_create_user(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "email", required_argument, NULL, 'e' },
		{ "role", required_argument, NULL, 'r' },
		{ "display-name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	char *email = NULL, pw[1100], pw2[1100], hash[CRYPTO_PWHASH_LEN];
	struct email_identity addr;
	const char *taken;
	fb_err why;
	char id[CRYPTO_UUID_LEN], rid[CRYPTO_UUID_LEN + 4];
	const char *role = NULL, *name = NULL;
	PGconn *pg = NULL;
	PGresult *r = NULL;
	json_t *after = NULL;
	char *after_s = NULL;
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'e': free(email); email = fb_strdup(optarg); break;
		case 'r': role = optarg; break;
		case 'n': name = optarg; break;
		default: usage(); goto out;
		}
	}
	if (email == NULL || role == NULL || name == NULL) {
		usage();
		goto out;
	}
	if (!email_identify(email, &addr, why)) {
		fprintf(stderr, "fairbeta: the --email %s\n", why);
		goto out;
	}
	if (!valid_role(role) || *name == '\0' || strlen(name) > 100 ||
	    strpbrk(name, "\r\n\t") != NULL) {
		fprintf(stderr, "fairbeta: need a valid --email, --role (admin, staff, finance,"
		    " artist) and a one-line --display-name of at most 100 characters\n");
		goto out;
	}
	if (read_password("password: ", pw, sizeof(pw)) != 0) {
		fprintf(stderr, "fairbeta: no password given on standard input\n");
		goto out;
	}
	if (isatty(STDIN_FILENO) && (read_password("again: ", pw2, sizeof(pw2)) != 0 ||
	    strcmp(pw, pw2) != 0)) {
		fprintf(stderr, "fairbeta: the passwords differ\n");
		goto out;
	}
	if (strlen(pw) < 8 || strlen(pw) > 256) {
		fprintf(stderr, "fairbeta: the password must be 8 to 256 characters\n");
		goto out;
	}
	if (crypto_init() != 0 || crypto_password_hash(pw, hash) != 0) {
		fprintf(stderr, "fairbeta: cannot hash the password\n");
		goto out;
	}
	if ((pg = admin_connect("fairbeta-admin")) == NULL)
		goto out;
	crypto_uuid_new(id);
	snprintf(rid, sizeof(rid), "cli-%s", id);
	after = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "email", addr.addr,
	    "display_name", name, "role", role);
	after_s = json_dumps(after, JSON_COMPACT);
	PQclear(PQexec(pg, "BEGIN"));
	if ((taken = email_taken(pg, &addr, false)) != NULL) {
		fprintf(stderr, "fairbeta: %s: %s\n", email, taken);
		goto rollback;
	}
	r = PQexecParams(pg, SQL_INSERT, 7, NULL,
	    (const char *[]){ id, addr.addr, hash, name, role, addr.norm, addr.skel },
	    NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "fairbeta: %s", PQresultErrorMessage(r));
		goto rollback;
	}
	if (PQntuples(r) == 0) {
		fprintf(stderr, "fairbeta: %s: %s\n", email, email_taken(pg, &addr, true));
		goto rollback;
	}
	free(email);
	email = fb_strdup(PQgetvalue(r, 0, EMAIL_PENDING_COL_EMAIL));
	PQclear(r);
	r = PQexecParams(pg, SQL_AUDIT, 3, NULL,
	    (const char *[]){ id, after_s, rid }, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "fairbeta: %s", PQresultErrorMessage(r));
		goto rollback;
	}
	PQclear(r);
	r = PQexec(pg, "COMMIT");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "fairbeta: %s", PQresultErrorMessage(r));
		goto out;
	}
	printf("created %s user %s (%s)\n", role, email, id);
	rc = 0;
	goto out;
rollback:
	PQclear(PQexec(pg, "ROLLBACK"));
out:
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(pw2, sizeof(pw2));
	PQclear(r);
	PQfinish(pg);
	json_decref(after);
	free(after_s);
	free(email);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "migrate") == 0)
		return cmd_migrate(argc - 1, argv + 1);
	if (argc >= 3 && strcmp(argv[1], "admin") == 0 && strcmp(argv[2], "create-user") == 0)
		return cmd_create_user(argc - 2, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "admin") == 0 && strcmp(argv[2], "check-ledger") == 0)
		return cmd_check_ledger(argc - 2, argv + 2);
	if (argc >= 2 && (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0)) {
		printf("fairbeta %s\n", FB_VERSION);
		return 0;
	}
	usage();
	return 2;
}
