/*
 * snapshot.c - `cairn snapshot save|restore|inspect` (Consul's
 * command/snapshot): archives of the servers' state over /v1/snapshot, and
 * reading one on disk. save verifies the archive before creating the file
 * and again by reading the file back (as Consul does), so neither a
 * truncated download nor a bad write is ever reported as saved.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/cn_common.h"
#include "storage/archive.h"

int cli_snapshot(int argc, char **argv);

static const char usage[] =
    "Usage: cairn snapshot <subcommand> [options] [args]\n"
    "\n"
    "  This command has subcommands for saving, restoring, and inspecting the state\n"
    "  of the cairn servers for disaster recovery. These are atomic, point-in-time\n"
    "  snapshots which include key/value entries, service catalog, prepared queries,\n"
    "  sessions, and ACLs.\n"
    "\n"
    "  If ACLs are enabled, a management token must be supplied in order to perform\n"
    "  snapshot operations.\n"
    "\n"
    "  Create a snapshot:\n"
    "\n"
    "      $ cairn snapshot save backup.snap\n"
    "\n"
    "  Restore a snapshot:\n"
    "\n"
    "      $ cairn snapshot restore backup.snap\n"
    "\n"
    "  Inspect a snapshot:\n"
    "\n"
    "      $ cairn snapshot inspect backup.snap\n"
    "\n"
    "Subcommands:\n"
    "    inspect    Displays information about a cairn snapshot file\n"
    "    restore    Restores snapshot of cairn server state\n"
    "    save       Saves snapshot of cairn server state\n";

static long file_read(void *ctx, void *p, size_t n)
{
    FILE *f = ctx;
    size_t k = fread(p, 1, n, f);
    if (k == 0 && ferror(f)) return -EIO;
    return (long)k;
}

/* The one FILE argument after the flags; NULL after printing Consul's error. */
static const char *file_arg(int argc, char **argv, int i)
{
    if (argc - i == 0) {
        fprintf(stderr, "Missing FILE argument\n");
        return NULL;
    }
    if (argc - i > 1) {
        fprintf(stderr, "Too many arguments (expected 1, got %d)\n", argc - i);
        return NULL;
    }
    return argv[i];
}

/* Go's *os.PathError text: "open <path>: <reason>", the reason in Go's
 * lowercase spelling of strerror. */
static FILE *open_file(const char *path, const char *mode, const char *what)
{
    FILE *f = fopen(path, mode);
    if (!f) {
        char reason[128];
        snprintf(reason, sizeof reason, "%s", strerror(errno));
        if (reason[0] >= 'A' && reason[0] <= 'Z') reason[0] = (char)(reason[0] - 'A' + 'a');
        fprintf(stderr, "%s: open %s: %s\n", what, path, reason);
    }
    return f;
}

static void api_error(const char *what, const struct cli_resp *r)
{
    size_t n = r->body.len;
    while (n && (r->body.data[n - 1] == '\n' || r->body.data[n - 1] == '\r'))
        n--;
    fprintf(stderr, "%s: Unexpected response code: %ld (%.*s)\n", what, r->status, (int)n,
            r->body.data ? r->body.data : "");
}

static int verify_stream(FILE *f, struct storage_archive_meta *m, const char *what)
{
    struct cn_err err;
    int rc = storage_archive_verify(file_read, f, m, &err);
    fclose(f);
    if (rc) fprintf(stderr, "%s: %s\n", what, err.msg);
    return rc ? -1 : 0;
}

static int write_file(const char *path, const struct cn_buf *b)
{
    FILE *f = open_file(path, "wb", "Error creating snapshot file");
    if (!f) return -1;
    if (b->len && fwrite(b->data, 1, b->len, f) != b->len) {
        fprintf(stderr, "Error writing snapshot file: %s\n", strerror(errno));
        fclose(f);
        return -1;
    }
    if (fclose(f)) {
        fprintf(stderr, "Error closing snapshot file after writing: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static int save(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    const struct cli_flag flags[] = {
        {"stale", CF_BOOL, &o.stale, "let any server answer, even without a leader", NULL},
        CLI_HTTP_FLAGS(&o),
        {0}};
    int i = cli_parse_flags("snapshot save", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    const char *file = file_arg(argc, argv, i);
    if (!file) return 1;
    struct cli_client *c = cli_client_new(&o);
    if (!c) return 1;
    struct cli_resp r;
    FILE *f;
    int rc = 1;
    if (cli_http(c, "GET", "/v1/snapshot", NULL, 0, &r, "Error saving snapshot")) {
        cli_client_free(c);
        return 1;
    }
    /* Check what arrived before creating the file, and the file once
     * written (Consul does the latter), so a bad download leaves no file
     * and a bad disk write is caught. */
    struct storage_archive_mem mem = {(const uint8_t *)r.body.data, r.body.len, 0};
    struct cn_err err;
    if (r.status != 200)
        api_error("Error saving snapshot", &r);
    else if (storage_archive_verify(storage_archive_mem_read, &mem, NULL, &err))
        fprintf(stderr, "Error verifying snapshot file: %s\n", err.msg);
    else if (write_file(file, &r.body) == 0 &&
             (f = open_file(file, "rb", "Error opening snapshot file for verify")) &&
             verify_stream(f, NULL, "Error verifying snapshot file") == 0) {
        printf("Saved and verified snapshot to index %llu\n", (unsigned long long)r.index);
        rc = 0;
    }
    cli_resp_release(&r);
    cli_client_free(c);
    return rc;
}

static int restore(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    bool stale = false; /* accepted as Consul does, and ignored: a restore goes to the leader */
    const struct cli_flag flags[] = {
        {"stale", CF_BOOL, &stale, "ignored", NULL}, CLI_HTTP_FLAGS(&o), {0}};
    int i = cli_parse_flags("snapshot restore", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    const char *file = file_arg(argc, argv, i);
    if (!file) return 1;
    struct cn_buf body;
    char chunk[65536];
    size_t n;
    FILE *f = open_file(file, "rb", "Error opening snapshot file");
    if (!f) return 1;
    cn_buf_init(&body, CN_BUF_UNLIMITED);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        cn_buf_put(&body, chunk, n);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "Error opening snapshot file: read %s: %s\n", file, strerror(EIO));
        cn_buf_release(&body);
        return 1;
    }
    struct cli_client *c = cli_client_new(&o);
    if (!c) {
        cn_buf_release(&body);
        return 1;
    }
    struct cli_resp r;
    int rc = 1;
    if (cli_http(c, "PUT", "/v1/snapshot", body.data ? body.data : "", body.len, &r,
                 "Error restoring snapshot") == 0) {
        if (r.status != 200) {
            api_error("Error restoring snapshot", &r);
        } else {
            printf("Restored snapshot\n");
            rc = 0;
        }
        cli_resp_release(&r);
    }
    cn_buf_release(&body);
    cli_client_free(c);
    return rc;
}

static int inspect(int argc, char **argv)
{
    const char *format = "pretty";
    const struct cli_flag flags[] = {
        {"format", CF_STR, &format, "output format: pretty or json", NULL}, {0}};
    int i = cli_parse_flags("snapshot inspect", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    const char *file = file_arg(argc, argv, i);
    if (!file) return 1;
    if (strcmp(format, "pretty") && strcmp(format, "json")) {
        fprintf(stderr, "Invalid format: %s (pretty, json)\n", format);
        return 1;
    }
    struct storage_archive_meta m;
    FILE *f = open_file(file, "rb", "Error opening snapshot file");
    if (!f || verify_stream(f, &m, "Error verifying snapshot")) return 1;
    if (!strcmp(format, "json")) {
        json_t *meta =
            json_pack("{s:s,s:I,s:I,s:I,s:i}", "ID", m.id, "Size", (json_int_t)m.size, "Index",
                      (json_int_t)m.index, "Term", (json_int_t)m.term, "Version", m.version);
        json_t *doc = json_pack("{s:o}", "Meta", meta);
        char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(doc);
        return 0;
    }
    /* Consul prints through a tabwriter (padding 6) and the UI adds a newline. */
    printf("%-13s%s\n", "ID", m.id);
    printf("%-13s%llu\n", "Size", (unsigned long long)m.size);
    printf("%-13s%llu\n", "Index", (unsigned long long)m.index);
    printf("%-13s%llu\n", "Term", (unsigned long long)m.term);
    printf("%-13s%d\n\n", "Version", m.version);
    return 0;
}

int cli_snapshot(int argc, char **argv)
{
    if (argc < 1 || !strcmp(argv[0], "-h") || !strcmp(argv[0], "-help") ||
        !strcmp(argv[0], "--help")) {
        fputs(usage, stderr);
        return argc < 1 ? 1 : 0;
    }
    if (!strcmp(argv[0], "save")) return save(argc - 1, argv + 1);
    if (!strcmp(argv[0], "restore")) return restore(argc - 1, argv + 1);
    if (!strcmp(argv[0], "inspect")) return inspect(argc - 1, argv + 1);
    fputs(usage, stderr);
    return 1;
}
