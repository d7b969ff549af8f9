/*
 * cli/cli.h - what the `strixcore` command's files share.
 *
 * main.c parses the global options and the config file into an sc_cli, then
 * dispatches to one sc_cli_cmd from its table. A new command is one line in
 * that table plus a cmd_<name>.c file.
 */
#ifndef STRIXCORE_CLI_H
#define STRIXCORE_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "strixcore/strixcore.h"

/* Exit statuses: 1 when something failed, 2 when the command line is wrong. */
enum { SC_CLI_OK = 0, SC_CLI_FAIL = 1, SC_CLI_USAGE = 2 };

typedef struct sc_cli {
    const char *backend;      /* --backend, else config `backend`, else "auto" */
    const char *config_path;  /* --config FILE or NULL */
    sc_config_t *config;      /* parsed --config file or NULL */
    char **plugin_paths;      /* config `plugin_path` entries, NULL-terminated */
    sc_registry_t *reg;       /* created on first use by sc_cli_registry */
    /* kernel tuning (strixcore/tuning.h): --tuning-enabled / --tuning /
     * --tuning-dir, else the config keys tuning_enabled / tuning / tuning_dir,
     * else (-1, NULL) STRIXCORE_TUNING_ENABLED / STRIXCORE_TUNING / _DIR */
    int tuning_enabled, tuning;
    const char *tuning_dir;
} sc_cli;

typedef struct sc_cli_cmd {
    const char *name;
    const char *args;         /* synopsis of the command's arguments */
    const char *summary;      /* one line for `strixcore --help` */
    /* argv[0] is the command name; returns an SC_CLI_* exit status. */
    int (*run)(sc_cli *cli, int argc, char **argv);
} sc_cli_cmd;

/* The registry, scanned on first use with the config's plugin paths. NULL
 * (after printing why) only if even the built-in backend failed. */
sc_registry_t *sc_cli_registry(sc_cli *cli);
/* The device --backend names; prints the available ones and returns NULL
 * when there is no such backend. Its kernel tuning is started (the cache
 * loaded) with the settings above. */
sc_device_t *sc_cli_pick_device(sc_cli *cli);
/* start tuning on dev with the CLI's settings; tuning_override >= 0 forces
 * STRIXCORE_TUNING's value (tune, serve --tune) */
int sc_cli_tuning_start(sc_cli *cli, sc_device_t *dev, int tuning_override);

/* output helpers (cli/util.c) */
void sc_cli_json_string(FILE *f, const char *s); /* quoted, escaped, valid UTF-8 */
void sc_cli_text(FILE *f, const char *s);        /* control characters shown as '?' */
void sc_cli_format_bytes(uint64_t n, char *buf, size_t len);
const char *sc_cli_device_type_name(int32_t type);
const char *sc_cli_plugin_kind_name(int32_t kind);
const char *sc_cli_plugin_status_name(sc_plugin_status status);

/* commands */
int sc_cmd_plugins(sc_cli *cli, int argc, char **argv);
int sc_cmd_devices(sc_cli *cli, int argc, char **argv);

/* model commands (cli/cmd_run.c, cli/cmd_bench.c) */
#include "strixcore/model.h"
int sc_cmd_run(sc_cli *cli, int argc, char **argv);
int sc_cmd_bench(sc_cli *cli, int argc, char **argv);
int sc_cmd_serve(sc_cli *cli, int argc, char **argv); /* cli/cmd_serve.c */
int sc_cmd_doctor(sc_cli *cli, int argc, char **argv); /* cli/cmd_doctor.c */
int sc_cmd_tune(sc_cli *cli, int argc, char **argv);   /* cli/cmd_tune.c */
/* Tune every shape serving the model needs (cli/cmd_tune.c; serve --tune):
 * prefill chunks up to max_batched tokens, decode batches up to max_seqs
 * sequences, decode at contexts up to the model's max length. Progress on
 * stderr. SC_OK or the first error. */
int sc_cli_pretune(sc_model_t *m, sc_device_t *dev, int max_seqs, int max_batched, bool quiet);
/* option values: SC_CLI_OK or SC_CLI_USAGE */
int sc_cli_parse_int(const char *s, int min, int max, int *out);
int sc_cli_parse_float(const char *s, float *out);
int sc_cli_parse_type(const char *s, sc_type *out); /* f32 | f16 | bf16 */
/* a loading bar on stderr while the model loads (only on a terminal) */
void sc_cli_progress_attach(sc_model_opts *mo, const char *label);
void sc_cli_progress_done(sc_model_opts *mo);
/* DIR/NAME when that file is readable, else NULL (free() the result). */
char *sc_cli_dir_file(const char *dir, const char *name);
/* The chat template at `path`, else DIR/chat_template.jinja, else
 * DIR/tokenizer_config.json. SC_OK with *out NULL when there is none; a
 * negative code (message printed, prefixed by `cmd`) when one fails to load. */
#include "strixcore/chat_template.h"
int sc_cli_load_template(const char *cmd, const char *path, const char *dir, sc_chat_template_t **out);

#endif
