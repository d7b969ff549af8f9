/*
 * cli/hf_pull.h - Hugging Face downloads for the `strixcore` command:
 * `strixcore pull`, and model arguments given as ORG/NAME[@REV].
 */
#ifndef STRIXCORE_CLI_HF_PULL_H
#define STRIXCORE_CLI_HF_PULL_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"

/* Download the files strixcore needs (*.safetensors, *.json, tokenizer files)
 * of repo at rev into the Hugging Face cache (libcurl; HF_ENDPOINT, HF_TOKEN,
 * resume of .incomplete blobs, sha256 of LFS files). On success *snapshot
 * (malloc'd) is the snapshot directory. Messages go to stderr, prefixed by
 * `cmd`; SC_CLI_OK or SC_CLI_FAIL. */
int sc_cli_hf_pull(const char *cmd, const char *repo, const char *rev, char **snapshot);

/* The directory a model argument names: `arg` itself when it exists;
 * otherwise, for ORG/NAME[@REV], the snapshot in the Hugging Face cache,
 * pulled first when it is missing (unless HF_HUB_OFFLINE). NULL after a
 * message on stderr. free() the result. */
char *sc_cli_model_path(const char *cmd, const char *arg);

int sc_cmd_pull(sc_cli *cli, int argc, char **argv);

/* SHA-256 (cli/sha256.c) */
typedef struct sc_sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t fill;
} sc_sha256;
void sc_sha256_init(sc_sha256 *s);
void sc_sha256_update(sc_sha256 *s, const void *data, size_t n);
void sc_sha256_hex(sc_sha256 *s, char out[65]); /* lowercase hex, NUL-terminated */
int sc_sha256_file(const char *path, char out[65]); /* -1 when unreadable */

#endif
