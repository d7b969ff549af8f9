/*
 * cli/cmd_plugins.c - `strixcore plugins` and `strixcore devices`.
 *
 * `plugins` is the first thing to run when a backend does not show up: it
 * lists every file the search path reached, with the probe's answer and the
 * exact reason a plugin was rejected or is unusable here.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static int parse_json_flag(int argc, char **argv, bool *json) {
    *json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            *json = true;
        } else {
            fprintf(stderr, "strixcore %s: unknown argument '%s'\n", argv[0], argv[i]);
            return SC_CLI_USAGE;
        }
    }
    return SC_CLI_OK;
}

/* Whether the probe ran (the core stamps struct_size once it has). */
static bool probed(const sc_plugin_record *r) { return r->desc.struct_size != 0; }

static void device_json(FILE *f, sc_device_t *d) {
    sc_device_props p;
    sc_device_get_props(d, &p);
    fputs("{\"name\": ", f);
    sc_cli_json_string(f, sc_device_name(d));
    fputs(", \"description\": ", f);
    sc_cli_json_string(f, p.description);
    fprintf(f, ", \"type\": \"%s\", \"memory_total\": %" PRIu64 ", \"memory_free\": %" PRIu64 "}",
            sc_cli_device_type_name(p.type), p.memory_total, p.memory_free);
}

static void plugin_json(FILE *f, sc_registry_t *reg, const sc_plugin_record *r) {
    int n = 0;
    fputs("  {\"path\": ", f);
    sc_cli_json_string(f, r->path);
    if (probed(r)) {
        fprintf(f, ", \"kind\": \"%s\", \"name\": ", sc_cli_plugin_kind_name(r->desc.kind));
        sc_cli_json_string(f, r->desc.name);
        fputs(", \"version\": ", f);
        sc_cli_json_string(f, r->desc.version);
        fputs(", \"description\": ", f);
        sc_cli_json_string(f, r->desc.description);
        fprintf(f, ", \"abi_major\": %u, \"abi_minor\": %u, \"score\": %d", (unsigned)r->desc.abi_major,
                (unsigned)r->desc.abi_minor, (int)r->desc.score);
    } else {
        fputs(", \"kind\": null, \"name\": null, \"version\": null, \"description\": null"
              ", \"abi_major\": null, \"abi_minor\": null, \"score\": null", f);
    }
    fprintf(f, ", \"status\": \"%s\", \"error\": ", sc_cli_plugin_status_name(r->status));
    if (r->error)
        sc_cli_json_string(f, sc_strerror(r->error));
    else
        fputs("null", f);
    fputs(", \"reason\": ", f);
    sc_cli_json_string(f, r->reason);
    fputs(", \"devices\": [", f);
    for (int i = 0; r->status == SC_PLUGIN_LOADED && i < sc_registry_device_count(reg); i++) {
        sc_device_t *d = sc_registry_device(reg, i);
        if (strcmp(sc_device_backend_name(d), r->desc.name) != 0)
            continue;
        fputs(n++ ? ", " : "", f);
        device_json(f, d);
    }
    fputs("]}", f);
}

static void plugin_text(FILE *f, sc_registry_t *reg, const sc_plugin_record *r) {
    sc_cli_text(f, r->path);
    fputc('\n', f);
    if (probed(r)) {
        fprintf(f, "  kind:        %s\n  name:        ", sc_cli_plugin_kind_name(r->desc.kind));
        sc_cli_text(f, r->desc.name);
        fputs("\n  version:     ", f);
        sc_cli_text(f, r->desc.version);
        if (r->desc.description[0]) {
            fputs("\n  description: ", f);
            sc_cli_text(f, r->desc.description);
        }
        fprintf(f, "\n  ABI:         %u.%u\n  score:       %d\n", (unsigned)r->desc.abi_major,
                (unsigned)r->desc.abi_minor, (int)r->desc.score);
    }
    fprintf(f, "  status:      %s", sc_cli_plugin_status_name(r->status));
    if (r->status == SC_PLUGIN_REJECTED)
        fprintf(f, " (%s)", sc_strerror(r->error));
    if (r->reason[0]) {
        fputs(": ", f);
        sc_cli_text(f, r->reason);
    }
    fputc('\n', f);
    if (r->status != SC_PLUGIN_LOADED)
        return;
    fputs("  devices:", f);
    if (r->n_devices == 0)
        fputs("     none", f);
    fputc('\n', f);
    for (int i = 0; i < sc_registry_device_count(reg); i++) {
        sc_device_t *d = sc_registry_device(reg, i);
        sc_device_props p;
        char mem[32];
        if (strcmp(sc_device_backend_name(d), r->desc.name) != 0)
            continue;
        sc_device_get_props(d, &p);
        sc_cli_format_bytes(p.memory_total, mem, sizeof(mem));
        fprintf(f, "    %-10s %-6s memory %-10s ", sc_device_name(d), sc_cli_device_type_name(p.type), mem);
        sc_cli_text(f, p.description);
        fputc('\n', f);
    }
}

int sc_cmd_plugins(sc_cli *cli, int argc, char **argv) {
    sc_registry_t *reg;
    bool json;
    int rc = parse_json_flag(argc, argv, &json);

    if (rc != SC_CLI_OK)
        return rc;
    reg = sc_cli_registry(cli);
    if (!reg)
        return SC_CLI_FAIL;
    if (json)
        fputs("[\n", stdout);
    for (int i = 0; i < sc_registry_plugin_count(reg); i++) {
        const sc_plugin_record *r = sc_registry_plugin(reg, i);
        if (json) {
            plugin_json(stdout, reg, r);
            fputs(i + 1 < sc_registry_plugin_count(reg) ? ",\n" : "\n", stdout);
        } else {
            fputs(i ? "\n" : "", stdout);
            plugin_text(stdout, reg, r);
        }
    }
    if (json)
        fputs("]\n", stdout);
    return SC_CLI_OK;
}

int sc_cmd_devices(sc_cli *cli, int argc, char **argv) {
    sc_registry_t *reg;
    sc_device_t *pick;
    bool json;
    int rc = parse_json_flag(argc, argv, &json);

    if (rc != SC_CLI_OK)
        return rc;
    reg = sc_cli_registry(cli);
    if (!reg)
        return SC_CLI_FAIL;
    pick = sc_cli_pick_device(cli);
    if (!pick)
        return SC_CLI_FAIL;
    if (json)
        fputs("[\n", stdout);
    else
        printf("  %-10s %-10s %-6s %-10s %s\n", "DEVICE", "BACKEND", "TYPE", "MEMORY", "DESCRIPTION");
    for (int i = 0; i < sc_registry_device_count(reg); i++) {
        sc_device_t *d = sc_registry_device(reg, i);
        sc_device_props p;
        char mem[32];
        if (json) {
            fputs("  ", stdout);
            device_json(stdout, d);
            fputs(i + 1 < sc_registry_device_count(reg) ? ",\n" : "\n", stdout);
            continue;
        }
        sc_device_get_props(d, &p);
        sc_cli_format_bytes(p.memory_total, mem, sizeof(mem));
        printf("%c %-10s %-10s %-6s %-10s ", d == pick ? '*' : ' ', sc_device_name(d), sc_device_backend_name(d),
               sc_cli_device_type_name(p.type), mem);
        sc_cli_text(stdout, p.description);
        fputc('\n', stdout);
    }
    if (json)
        fputs("]\n", stdout);
    return SC_CLI_OK;
}
