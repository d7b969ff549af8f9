/*
 * cli/main.c - the `strixcore` command: global options, config file, and the
 * command table.
 *
 *   strixcore [--backend auto|cpu|hip|vulkan|NAME] [--config FILE] [-v|-vv] [--graphs|--enforce-eager]
 *             [--log-format text|json] [--tuning-enabled 0|1] [--tuning 0|1] [--tuning-dir DIR]
 *             <command> [args]
 *
 * Settings are applied in increasing priority: built-in defaults, the
 * config file, the command line.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hf_pull.h"
#include "strixcore/tuning.h"

static int cmd_help(sc_cli *cli, int argc, char **argv);

/* Add commands here (serve, run, bench, tune, doctor, pull, ...). */
static const sc_cli_cmd commands[] = {
    {"plugins", "[--json]", "list every plugin found: status, devices, or why it was rejected", sc_cmd_plugins},
    {"devices", "[--json]", "list usable devices; * marks the one --backend picks", sc_cmd_devices},
    {"run", "MODEL_DIR [-p PROMPT] [OPTIONS]",
     "stream an answer to PROMPT, or chat on stdin; `strixcore run` alone lists the options", sc_cmd_run},
    {"bench", "[MODEL_DIR | --synthetic NAME] [OPTIONS]",
     "prefill/decode tok/s (llama-bench style) and achieved memory bandwidth; -p N -n N -r N -o md|json", sc_cmd_bench},
    {"serve", "MODEL_DIR [--port N] [--api-key KEY] [--config deploy.json] [OPTIONS]",
     "serve the model over the OpenAI API (vLLM's flags) through a frontend plugin", sc_cmd_serve},
    {"pull", "ORG/NAME[@REV]", "download a model from the Hugging Face hub into its cache (see docs/models.md)",
     sc_cmd_pull},
    {"doctor", "[MODEL_DIR] [--max-model-len N] [--json]",
     "check kernel args, GTT/VRAM, /dev/kfd and groups; whether MODEL fits; exact fixes", sc_cmd_doctor},
    {"tune", "[MODEL_DIR | --synthetic NAME] [--show] [OPTIONS]",
     "time every kernel variant for every shape MODEL needs and keep the fastest (docs/tuning.md)", sc_cmd_tune},
    {"help", "[COMMAND]", "show this help, or one command's", cmd_help},
};

static const sc_cli_cmd *find_command(const char *name) {
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void usage(FILE *f) {
    fputs("usage: strixcore [OPTIONS] <command> [ARGS]\n"
          "\n"
          "options:\n"
          "  --backend auto|cpu|hip|vulkan|NAME  device to run on (default: auto = best probe score)\n"
          "  --config FILE                       read settings from FILE (`key = value` lines)\n"
          "  -v, -vv                             log info / debug messages to stderr\n"
          "  --log-format text|json              format of log lines\n"
          "  --graphs                            capture repeated decode steps into GPU graphs and\n"
          "                                      replay them (HIP backend: hipGraph / CUDA graphs)\n"
          "  --enforce-eager                     launch every kernel eagerly (the default)\n"
          "  --tuning-enabled 0|1                use tuned kernel choices from the cache (default 1)\n"
          "  --tuning 0|1                        tune shapes not in the cache as they are met (default 0;\n"
          "                                      `strixcore tune MODEL` tunes ahead of time)\n"
          "  --tuning-dir DIR                    the tuning cache (default ~/.cache/strixcore/tuning)\n"
          "  -h, --help                          show this help\n"
          "  --version                           show the version and plugin ABI\n"
          "\n"
          "commands:\n",
          f);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char left[64];
        snprintf(left, sizeof(left), "%s %s", commands[i].name, commands[i].args);
        fprintf(f, "  %-24s %s\n", left, commands[i].summary);
    }
    fputs("\n"
          "config keys: backend, plugin_path (repeatable), log_level (error|warn|info|debug),\n"
          "             log_format (text|json), tuning_enabled, tuning, tuning_dir\n"
          "environment: STRIXCORE_PLUGIN_PATH  colon-separated plugin directories or .so files\n"
          "             STRIXCORE_HIP_GRAPHS   1: as --graphs (the flags win over it)\n"
          "             STRIXCORE_TUNING_ENABLED, STRIXCORE_TUNING, STRIXCORE_TUNING_DIR: as the\n"
          "             tuning flags (flags and config keys win)\n",
          f);
}

static void command_usage(FILE *f, const sc_cli_cmd *c) {
    fprintf(f, "usage: strixcore [OPTIONS] %s %s\n  %s\n", c->name, c->args, c->summary);
}

static void list_commands(FILE *f) {
    fputs("commands:", f);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "%s %s", i ? "," : "", commands[i].name);
    fputc('\n', f);
}

static int cmd_help(sc_cli *cli, int argc, char **argv) {
    const sc_cli_cmd *c;
    if (argc < 2) {
        usage(stdout);
        return SC_CLI_OK;
    }
    c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "strixcore: unknown command '%s'\n", argv[1]);
        list_commands(stderr);
        return SC_CLI_USAGE;
    }
    command_usage(stdout, c);
    return SC_CLI_OK;
}

sc_registry_t *sc_cli_registry(sc_cli *cli) {
    sc_registry_opts opts;
    int rc;
    if (cli->reg)
        return cli->reg;
    memset(&opts, 0, sizeof(opts));
    opts.struct_size = sizeof(opts);
    opts.search_paths = (const char *const *)cli->plugin_paths;
    rc = sc_registry_create(&opts, &cli->reg);
    if (rc < 0) {
        fprintf(stderr, "strixcore: cannot create the device registry: %s\n", sc_strerror(rc));
        return NULL;
    }
    return cli->reg;
}

sc_device_t *sc_cli_pick_device(sc_cli *cli) {
    sc_registry_t *reg = sc_cli_registry(cli);
    sc_device_t *d;
    if (!reg)
        return NULL;
    d = sc_registry_pick(reg, cli->backend);
    if (d) {
        sc_cli_tuning_start(cli, d, -1);
        return d;
    }
    fprintf(stderr, "strixcore: no backend or device named '%s'; available: auto", cli->backend);
    for (int i = 0; i < sc_registry_device_count(reg); i++) {
        sc_device_t *di = sc_registry_device(reg, i);
        const char *be = sc_device_backend_name(di);
        bool first_of_backend = true;
        for (int j = 0; j < i; j++)
            if (strcmp(sc_device_backend_name(sc_registry_device(reg, j)), be) == 0)
                first_of_backend = false;
        if (first_of_backend && strcmp(be, sc_device_name(di)) != 0)
            fprintf(stderr, ", %s", be);
        fprintf(stderr, ", %s", sc_device_name(di));
    }
    fputs("\n(`strixcore plugins` shows plugins that failed to load and why)\n", stderr);
    return NULL;
}

int sc_cli_tuning_start(sc_cli *cli, sc_device_t *dev, int tuning_override) {
    sc_tuning_opts to = {.struct_size = sizeof to, .enabled = cli->tuning_enabled, .tuning = cli->tuning,
                         .dir = cli->tuning_dir};
    if (tuning_override >= 0) {
        to.tuning = tuning_override;
        if (tuning_override && to.enabled < 0) to.enabled = 1;
    }
    char err[512];
    int rc = sc_device_tuning_start(dev, &to, err, sizeof err);
    if (rc != SC_OK)
        fprintf(stderr, "strixcore: kernel tuning is off for %s: %s\n", sc_device_name(dev), err);
    return rc;
}

/* 0|1 (also true/false, on/off) for a tuning flag or key; -2 when neither */
static int parse_bool01(const char *s) {
    if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "yes")) return 1;
    if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "no")) return 0;
    return -2;
}

/* Value of `--name VALUE` or `--name=VALUE` at argv[*i]; NULL if argv[*i] is
 * another option. Sets *missing when the value is absent. */
static const char *option_value(int argc, char **argv, int *i, const char *name, bool *missing) {
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

static int parse_log_format(const char *s, sc_log_format *out) {
    if (strcmp(s, "text") == 0)
        *out = SC_LOG_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = SC_LOG_JSON;
    else
        return SC_EINVAL;
    return SC_OK;
}

/* plugin_path entries are relative to the config file's directory, so that a
 * config file can sit next to the plugins it names. */
static char *resolve_config_path(const char *config_path, const char *value) {
    const char *slash = strrchr(config_path, '/');
    size_t dlen, vlen = strlen(value);
    char *p;
    if (value[0] == '/' || !slash)
        return strdup(value);
    dlen = (size_t)(slash - config_path);
    p = malloc(dlen + 1 + vlen + 1);
    if (p) {
        memcpy(p, config_path, dlen);
        p[dlen] = '/';
        memcpy(p + dlen + 1, value, vlen + 1);
    }
    return p;
}

/* Apply the config file; command-line options are applied afterwards. */
static int apply_config(sc_cli *cli) {
    char err[512];
    const char *v;
    int rc, n;

    rc = sc_config_load(cli->config_path, &cli->config, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "strixcore: cannot read config: %s\n", err);
        return SC_CLI_FAIL;
    }
    if ((v = sc_config_get(cli->config, "log_level")) != NULL) {
        sc_log_level level;
        if (sc_log_level_parse(v, &level) < 0) {
            fprintf(stderr, "strixcore: %s: log_level '%s' is not one of error, warn, info, debug\n",
                    cli->config_path, v);
            return SC_CLI_FAIL;
        }
        sc_log_set_level(level);
    }
    if ((v = sc_config_get(cli->config, "log_format")) != NULL) {
        sc_log_format fmt;
        if (parse_log_format(v, &fmt) < 0) {
            fprintf(stderr, "strixcore: %s: log_format '%s' is not text or json\n", cli->config_path, v);
            return SC_CLI_FAIL;
        }
        sc_log_set_format(fmt);
    }
    if ((v = sc_config_get(cli->config, "backend")) != NULL && v[0])
        cli->backend = v;
    const char *tkeys[2] = {"tuning_enabled", "tuning"};
    int *tvals[2] = {&cli->tuning_enabled, &cli->tuning};
    for (int k = 0; k < 2; k++) {
        if ((v = sc_config_get(cli->config, tkeys[k])) == NULL)
            continue;
        if ((*tvals[k] = parse_bool01(v)) < 0) {
            fprintf(stderr, "strixcore: %s: %s '%s' is not 0 or 1\n", cli->config_path, tkeys[k], v);
            return SC_CLI_FAIL;
        }
    }
    if ((v = sc_config_get(cli->config, "tuning_dir")) != NULL && v[0])
        cli->tuning_dir = v;
    n = sc_config_get_all(cli->config, "plugin_path", NULL, 0);
    if (n > 0) {
        const char **vals = calloc((size_t)n, sizeof(*vals));
        cli->plugin_paths = calloc((size_t)n + 1, sizeof(*cli->plugin_paths));
        if (!vals || !cli->plugin_paths) {
            free(vals);
            fputs("strixcore: out of memory\n", stderr);
            return SC_CLI_FAIL;
        }
        sc_config_get_all(cli->config, "plugin_path", vals, n);
        for (int i = 0; i < n; i++) {
            cli->plugin_paths[i] = resolve_config_path(cli->config_path, vals[i]);
            if (!cli->plugin_paths[i]) {
                free(vals);
                fputs("strixcore: out of memory\n", stderr);
                return SC_CLI_FAIL;
            }
        }
        free(vals);
    }
    return SC_CLI_OK;
}

static void cli_free(sc_cli *cli) {
    sc_registry_destroy(cli->reg);
    if (cli->plugin_paths)
        for (char **p = cli->plugin_paths; *p; p++)
            free(*p);
    free(cli->plugin_paths);
    sc_config_destroy(cli->config);
}

int main(int argc, char **argv) {
    sc_cli cli = {.backend = NULL, .tuning_enabled = -1, .tuning = -1};
    const char *backend = NULL, *log_format = NULL, *tuning_dir = NULL;
    int tuning_enabled = -1, tuning = -1;
    const sc_cli_cmd *cmd;
    int verbose = 0, i, rc;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i], *v;
        bool missing = false;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return SC_CLI_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("strixcore %s (plugin ABI %d.%d)\n", SC_VERSION_STRING, SC_ABI_MAJOR, SC_ABI_MINOR);
            return SC_CLI_OK;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            verbose++;
        } else if (strcmp(a, "-vv") == 0) {
            verbose += 2;
        } else if (strcmp(a, "--graphs") == 0 || strcmp(a, "--enforce-eager") == 0) {
            /* backends read their execution mode when a stream is made */
            setenv("STRIXCORE_HIP_GRAPHS", strcmp(a, "--graphs") == 0 ? "1" : "0", 1);
        } else if ((v = option_value(argc, argv, &i, "--backend", &missing)) != NULL) {
            backend = v;
        } else if ((v = option_value(argc, argv, &i, "--config", &missing)) != NULL) {
            cli.config_path = v;
        } else if ((v = option_value(argc, argv, &i, "--log-format", &missing)) != NULL) {
            log_format = v;
        } else if ((v = option_value(argc, argv, &i, "--tuning-enabled", &missing)) != NULL ||
                   (v = option_value(argc, argv, &i, "--tuning", &missing)) != NULL) {
            const bool en = strncmp(argv[i - (argv[i] == v ? 1 : 0)], "--tuning-enabled", 16) == 0;
            const int b = parse_bool01(v);
            if (b < 0) {
                fprintf(stderr, "strixcore: %s wants 0 or 1, not '%s'\n", en ? "--tuning-enabled" : "--tuning", v);
                return SC_CLI_USAGE;
            }
            *(en ? &tuning_enabled : &tuning) = b;
        } else if ((v = option_value(argc, argv, &i, "--tuning-dir", &missing)) != NULL) {
            tuning_dir = v;
        } else {
            if (missing)
                fprintf(stderr, "strixcore: option '%s' needs a value\n", a);
            else
                fprintf(stderr, "strixcore: unknown option '%s'\n", a);
            fputs("try 'strixcore --help'\n", stderr);
            return SC_CLI_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return SC_CLI_USAGE;
    }
    cmd = find_command(argv[i]);
    if (!cmd) {
        fprintf(stderr, "strixcore: unknown command '%s'\n", argv[i]);
        list_commands(stderr);
        return SC_CLI_USAGE;
    }
    if (backend && !backend[0]) {
        fputs("strixcore: --backend needs a name (auto, cpu, hip, vulkan, ...)\n", stderr);
        return SC_CLI_USAGE;
    }
    /* serve prints its own, longer help (every flag of its settings table) */
    if (i + 1 < argc && strcmp(cmd->name, "serve") != 0 &&
        (strcmp(argv[i + 1], "--help") == 0 || strcmp(argv[i + 1], "-h") == 0)) {
        command_usage(stdout, cmd);
        return SC_CLI_OK;
    }

    rc = cli.config_path ? apply_config(&cli) : SC_CLI_OK;
    if (rc == SC_CLI_OK && log_format) {
        sc_log_format fmt;
        if (parse_log_format(log_format, &fmt) < 0) {
            fprintf(stderr, "strixcore: --log-format must be text or json, not '%s'\n", log_format);
            rc = SC_CLI_USAGE;
        } else {
            sc_log_set_format(fmt);
        }
    }
    if (rc == SC_CLI_OK) {
        if (verbose)
            sc_log_set_level(verbose == 1 ? SC_LOG_INFO : SC_LOG_DEBUG);
        if (backend)
            cli.backend = backend;
        if (tuning_enabled >= 0)
            cli.tuning_enabled = tuning_enabled;
        if (tuning >= 0)
            cli.tuning = tuning;
        if (tuning_dir)
            cli.tuning_dir = tuning_dir;
        if (!cli.backend)
            cli.backend = "auto";
        rc = cmd->run(&cli, argc - i, argv + i);
    }
    cli_free(&cli);
    return rc;
}
