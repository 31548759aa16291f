/*
 * embed: turns files into C arrays at build time, so that the binaries carry
 * their migrations and their OpenAPI document and need no files at run time.
 *
 *   embed blob SYMBOL FILE            -> const char SYMBOL[]; const size_t SYMBOL_len;
 *   embed migrations FILE...          -> const struct migration fb_migrations[];
 *   embed files FILE...               -> const struct console_file console_files[]
 *                                        (api/console.h), named by base name
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long
emit_bytes(const char *path, const char *sym)
{
	FILE *f = fopen(path, "rb");
	long n = 0;
	int c;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	printf("static const char %s[] = {", sym);
	while ((c = fgetc(f)) != EOF) {
		if (n % 16 == 0)
			printf("\n\t");
		printf("0x%02x,", (unsigned char)c);
		n++;
	}
	printf("\n\t0x00\n};\n");
	fclose(f);
	return n;
}

int
main(int argc, char **argv)
{
	int i;

	if (argc >= 4 && strcmp(argv[1], "blob") == 0) {
		long n = emit_bytes(argv[3], "blob_data");

		printf("#include <stddef.h>\n");
		printf("const char *const %s = blob_data;\n", argv[2]);
		printf("const size_t %s_len = %ld;\n", argv[2], n);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "migrations") == 0) {
		long *lens = calloc((size_t)argc, sizeof(long));
		char sym[32];

		printf("#include \"fb.h\"\n#include \"migrate.h\"\n");
		for (i = 2; i < argc; i++) {
			snprintf(sym, sizeof(sym), "m%d", i);
			lens[i] = emit_bytes(argv[i], sym);
		}
		printf("const struct migration fb_migrations[] = {\n");
		for (i = 2; i < argc; i++) {
			const char *base = strrchr(argv[i], '/');

			printf("\t{ \"%s\", m%d, %ld },\n", base ? base + 1 : argv[i], i, lens[i]);
		}
		printf("\t{ NULL, NULL, 0 }\n};\n");
		printf("const size_t fb_migrations_count = %d;\n", argc - 2);
		free(lens);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "files") == 0) {
		long *lens = calloc((size_t)argc, sizeof(long));
		char sym[32];

		printf("#include \"fb.h\"\n#include \"console.h\"\n");
		for (i = 2; i < argc; i++) {
			snprintf(sym, sizeof(sym), "f%d", i);
			lens[i] = emit_bytes(argv[i], sym);
		}
		printf("const struct console_file console_files[] = {\n");
		for (i = 2; i < argc; i++) {
			const char *base = strrchr(argv[i], '/');

			printf("\t{ \"%s\", f%d, %ld },\n", base ? base + 1 : argv[i], i, lens[i]);
		}
		printf("\t{ NULL, NULL, 0 }\n};\n");
		free(lens);
		return 0;
	}
	fprintf(stderr, "usage: embed blob SYMBOL FILE | embed migrations FILE..."
	    " | embed files FILE...\n");
	return 2;
}
