/*
 * cli/cmd_doctor.c - `strixcore doctor [MODEL] [--max-model-len N]`: is this
 * machine set up to run models on its GPU, and does MODEL fit?
 *
 * Reads the machine (cli/doctor_probe.c), turns the facts into OK / WARN /
 * FAIL checks and concrete advice (the kernel arguments for this machine's
 * RAM, the usermod line, the largest --max-model-len that fits), and prints
 * them as text or one JSON object (--json). Exit status: 0 when no check
 * FAILs, 1 otherwise, 2 for a bad command line. docs/doctor.md has the rules.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"

typedef struct dr_opts {
    const char *model;
    const char *root;
    int max_model_len;        /* 0: the engine's default */
    sc_type kv;
    bool json;
} dr_opts;

static int doctor_usage(const char *why, const char *arg) {
    if (why)
        fprintf(stderr, "strixcore doctor: %s%s%s\n", why, arg ? " " : "", arg ? arg : "");
    fputs("usage: strixcore doctor [MODEL_DIR] [--max-model-len N] [--kv-type f32|f16|bf16] [--root DIR] [--json]\n"
          "  --max-model-len N  tokens of context to size the KV cache for (default: as `run`)\n"
          "  --kv-type T        KV cache element type (default f32, as `run`)\n"
          "  --root DIR         read /proc, /sys, /dev and /etc/group under DIR (tests)\n"
          "  --json             one JSON object instead of text\n"
          "exit status: 0 when no check FAILs, 1 otherwise, 2 for a bad command line\n",
          stderr);
    return SC_CLI_USAGE;
}

static int parse_opts(int argc, char **argv, dr_opts *o) {
    memset(o, 0, sizeof(*o));
    o->kv = SC_TYPE_F32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = SC_CLI_OK;
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (a[0] != '-') {
            if (o->model)
                return doctor_usage("more than one MODEL:", a);
            o->model = a;
            continue;
        }
        if (strcmp(a, "--max-model-len") != 0 && strcmp(a, "--root") != 0 && strcmp(a, "--kv-type") != 0)
            return doctor_usage("unknown argument", a);
        if (i + 1 >= argc)
            return doctor_usage("a value is missing after", a);
        const char *v = argv[++i];
        if (strcmp(a, "--max-model-len") == 0)
            rc = sc_cli_parse_int(v, 1, 1 << 30, &o->max_model_len);
        else if (strcmp(a, "--kv-type") == 0)
            rc = sc_cli_parse_type(v, &o->kv);
        else
            o->root = v;
        if (rc != SC_CLI_OK)
            return doctor_usage("bad value for", a);
    }
    return SC_CLI_OK;
}

static void check(sc_doctor *d, const char *name, sc_dr_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void check(sc_doctor *d, const char *name, sc_dr_status st, const char *fmt, ...) {
    va_list ap;
    sc_dr_check *c;
    if (d->n_checks >= SC_DR_MAX_CHECKS)
        return;
    c = &d->checks[d->n_checks++];
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->status = st;
    va_start(ap, fmt);
    vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
    va_end(ap);
}

static void advise(sc_doctor *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void advise(sc_doctor *d, const char *fmt, ...) {
    va_list ap;
    if (d->n_advice >= SC_DR_MAX_ADVICE)
        return;
    va_start(ap, fmt);
    vsnprintf(d->advice[d->n_advice++], sizeof(d->advice[0]), fmt, ap);
    va_end(ap);
}

static const char *gib(uint64_t n, char *buf, size_t len) {
    sc_cli_format_bytes(n, buf, len);
    return buf;
}

/* ---- checks ---------------------------------------------------------------- */

static void check_ram(sc_doctor *d) {
    char a[32], b[32], c[32];
    if (!d->have_meminfo) {
        check(d, "ram", SC_DR_WARN, "cannot read %s/proc/meminfo", d->root);
        return;
    }
    check(d, "ram", SC_DR_OK, "%s total, %s available (%s installed, counting the VRAM carve-out)",
          gib(d->mem_total, a, sizeof(a)), gib(d->mem_available, b, sizeof(b)), gib(d->ram_rounded, c, sizeof(c)));
}

static void check_kernel_args(sc_doctor *d) {
    const sc_dr_card *g = &d->cards[d->gpu];
    char a[32], b[32], r[32];
    uint64_t rec = d->rec_gtt_mib * SC_DR_MIB;
    bool gtt_ok = rec == 0 || g->gtt_total >= rec - rec / 32; /* within ~3% of the rule */

    if (!d->have_cmdline)
        check(d, "kernel.cmdline", SC_DR_WARN, "cannot read %s/proc/cmdline", d->root);
    if (d->gttsize.set && strtoull(d->gttsize.value, NULL, 10) < d->rec_gtt_mib - d->rec_gtt_mib / 32)
        check(d, "kernel.gttsize", SC_DR_WARN, "amdgpu.gttsize=%s is below the %" PRIu64 " MiB this RAM allows",
              d->gttsize.value, d->rec_gtt_mib);
    else if (d->gttsize.set)
        check(d, "kernel.gttsize", SC_DR_OK, "amdgpu.gttsize=%s", d->gttsize.value);
    else
        check(d, "kernel.gttsize", gtt_ok ? SC_DR_OK : SC_DR_WARN,
              "amdgpu.gttsize not set%s", gtt_ok ? " (GTT is large enough anyway)" : "");
    if (d->pages_limit.set) {
        uint64_t pages = strtoull(d->pages_limit.value, NULL, 10);
        uint64_t want = d->gttsize.set ? strtoull(d->gttsize.value, NULL, 10) * (SC_DR_MIB / 4096) : 0;
        if (pages < want)
            check(d, "kernel.pages_limit", SC_DR_WARN,
                  "ttm.pages_limit=%s caps GTT below amdgpu.gttsize (needs %" PRIu64 " 4 KiB pages)",
                  d->pages_limit.value, want);
        else
            check(d, "kernel.pages_limit", SC_DR_OK, "ttm.pages_limit=%s", d->pages_limit.value);
    } else {
        check(d, "kernel.pages_limit", gtt_ok ? SC_DR_OK : SC_DR_WARN,
              "ttm.pages_limit not set: TTM caps GTT at half of RAM");
    }
    if (d->amd_iommu.set && strcmp(d->amd_iommu.value, "off") == 0)
        check(d, "kernel.iommu", SC_DR_OK, "amd_iommu=off (~6%% more GPU read bandwidth)");
    else
        check(d, "kernel.iommu", SC_DR_WARN, "optional: amd_iommu=off gives ~6%% more GPU read bandwidth%s",
              d->iommu.set && strcmp(d->iommu.value, "pt") == 0 ? " (iommu=pt gives nothing measurable)" : "");

    if (gtt_ok)
        check(d, "gpu.memory", SC_DR_OK, "%s: VRAM carve-out %s + GTT %s", g->name,
              gib(g->vram_total, a, sizeof(a)), gib(g->gtt_total, b, sizeof(b)));
    else
        check(d, "gpu.memory", SC_DR_WARN,
              "%s: VRAM carve-out %s + GTT %s; GTT could be %s: ROCm sees only the carve-out or stops at "
              "64 GB until GTT is raised",
              g->name, gib(g->vram_total, a, sizeof(a)), gib(g->gtt_total, b, sizeof(b)), gib(rec, r, sizeof(r)));
    if (!gtt_ok && d->rec_gtt_mib) {
        advise(d,
               "raise GTT to %s (RAM %s rounded up to 8 GiB, minus 4 GiB for the OS) with the kernel arguments: "
               "amdgpu.gttsize=%" PRIu64 " ttm.pages_limit=%" PRIu64,
               gib(rec, r, sizeof(r)), gib(d->ram_rounded, a, sizeof(a)), d->rec_gtt_mib, d->rec_pages);
        advise(d,
               "Debian/Ubuntu: sudo sed -i 's/^GRUB_CMDLINE_LINUX_DEFAULT=\"/&amdgpu.gttsize=%" PRIu64
               " ttm.pages_limit=%" PRIu64 " /' /etc/default/grub && sudo update-grub && sudo reboot",
               d->rec_gtt_mib, d->rec_pages);
        advise(d,
               "Fedora: sudo grubby --update-kernel=ALL --args=\"amdgpu.gttsize=%" PRIu64 " ttm.pages_limit=%" PRIu64
               "\" && sudo reboot",
               d->rec_gtt_mib, d->rec_pages);
    }
    if (!(d->amd_iommu.set && strcmp(d->amd_iommu.value, "off") == 0))
        advise(d, "optional: add amd_iommu=off to GRUB_CMDLINE_LINUX_DEFAULT for ~6%% more GPU read bandwidth "
                  "(it turns the IOMMU off: no VFIO passthrough)");
}

static void check_gpu(sc_doctor *d) {
    if (d->gpu < 0) {
        check(d, "gpu", SC_DR_WARN, "no amdgpu card under %s/sys/class/drm: only the CPU backend can run",
              d->root);
        return;
    }
    const sc_dr_card *g = &d->cards[d->gpu];
    check(d, "gpu", SC_DR_OK, "%s: amdgpu %s:%s%s", g->name, g->vendor[0] ? g->vendor : "?",
          g->device[0] ? g->device : "?", strcmp(g->device, "0x1586") == 0 ? " (Strix Halo, gfx1151)" : "");
    check_kernel_args(d);
}

static void check_dev(sc_doctor *d) {
    bool gpu = d->gpu >= 0;
    int ok = 0;
    if (!d->kfd_exists)
        check(d, "dev.kfd", SC_DR_WARN, "no /dev/kfd: %s", gpu ? "ROCm/HIP cannot run (amdgpu has no KFD); Vulkan can"
                                                               : "no ROCm GPU");
    else if (!d->kfd_access)
        check(d, "dev.kfd", SC_DR_FAIL, "/dev/kfd is not readable and writable by %s", d->user);
    else
        check(d, "dev.kfd", SC_DR_OK, "/dev/kfd read/write");
    for (int i = 0; i < d->n_nodes; i++)
        ok += d->nodes[i].access;
    if (d->n_nodes == 0)
        check(d, "dev.render", SC_DR_WARN, "no /dev/dri/renderD* node%s", gpu ? "" : " (no GPU)");
    else if (ok == 0)
        check(d, "dev.render", SC_DR_FAIL, "%s and %d more not readable and writable by %s", d->nodes[0].path,
              d->n_nodes - 1, d->user);
    else
        check(d, "dev.render", SC_DR_OK, "%s read/write (%d of %d render nodes)", d->nodes[0].path, ok, d->n_nodes);
}

static void check_groups(sc_doctor *d) {
    bool need = d->gpu >= 0 || d->kfd_exists || d->n_nodes > 0;
    bool miss_render = d->render_exists && !d->in_render, miss_video = d->video_exists && !d->in_video;
    if (d->is_root) {
        check(d, "groups", SC_DR_OK, "running as root: every device is open to it");
        return;
    }
    if (!need) {
        check(d, "groups", SC_DR_OK, "no GPU device nodes: the render and video groups are not needed");
        return;
    }
    if (!miss_render && !miss_video) {
        check(d, "groups", SC_DR_OK, "%s is in %s%s%s", d->user, d->render_exists ? "render" : "",
              d->render_exists && d->video_exists ? " and " : "", d->video_exists ? "video" : "");
        return;
    }
    if ((!miss_render || d->listed_render) && (!miss_video || d->listed_video)) {
        check(d, "groups", SC_DR_WARN, "%s was added to %s%s%s but this session predates it", d->user,
              miss_render ? "render" : "", miss_render && miss_video ? " and " : "", miss_video ? "video" : "");
        advise(d, "log out and back in (or run `newgrp render`) so the new groups apply");
        return;
    }
    check(d, "groups", SC_DR_FAIL, "%s is not in %s%s%s: /dev/kfd and /dev/dri/renderD* need them",
          d->user, miss_render ? "render" : "", miss_render && miss_video ? " and " : "", miss_video ? "video" : "");
    advise(d, "sudo usermod -aG render,video %s   (then log out and back in)", d->user);
}

/* What each backend plugin sees. With --root these still come from this
 * machine: plugins probe real hardware. */
static void check_devices(sc_doctor *d, sc_cli *cli, sc_registry_t *reg) {
    int n = reg ? sc_registry_device_count(reg) : 0, n_gpu = 0;
    (void)cli;
    for (int i = 0; i < n; i++) {
        sc_device_props p;
        sc_device_get_props(sc_registry_device(reg, i), &p);
        n_gpu += p.type == SC_DEVICE_GPU || p.type == SC_DEVICE_IGPU;
    }
    if (!reg)
        check(d, "backends", SC_DR_FAIL, "the device registry could not be created");
    else if (d->root[0])
        check(d, "backends", SC_DR_OK, "%d device(s), %d GPU, from this machine's plugins (not --root)", n, n_gpu);
    else if (d->gpu >= 0 && n_gpu == 0)
        check(d, "backends", SC_DR_WARN,
              "amdgpu is present but no backend plugin sees a GPU (`strixcore plugins` says why)");
    else
        check(d, "backends", SC_DR_OK, "%d device(s), %d GPU", n, n_gpu);
}

/* The memory a model can use: the GPU's VRAM + GTT (GTT is system RAM, so
 * no more than MemTotal of it), else the RAM available now. */
static uint64_t model_budget(const sc_doctor *d, const char **source) {
    if (d->gpu >= 0) {
        const sc_dr_card *g = &d->cards[d->gpu];
        uint64_t gtt = d->have_meminfo && g->gtt_total > d->mem_total ? d->mem_total : g->gtt_total;
        *source = "gpu vram+gtt";
        return g->vram_total + gtt;
    }
    *source = "ram available";
    return d->mem_available;
}

static void check_model(sc_doctor *d, const sc_dr_model *m) {
    char w[32], k[32], b[32];
    if (m->fits)
        check(d, "model", SC_DR_OK, "weights %s + KV %s at %" PRId64 " tokens (%s) fit in %s (%s)",
              gib(m->weights_bytes, w, sizeof(w)), gib(m->kv_bytes, k, sizeof(k)), m->max_model_len,
              sc_type_name(m->kv_type), gib(m->budget, b, sizeof(b)), m->budget_source);
    else
        check(d, "model", SC_DR_FAIL, "weights %s + KV %s at %" PRId64 " tokens (%s) exceed %s (%s)",
              gib(m->weights_bytes, w, sizeof(w)), gib(m->kv_bytes, k, sizeof(k)), m->max_model_len,
              sc_type_name(m->kv_type), gib(m->budget, b, sizeof(b)), m->budget_source);
    if (!m->fits && m->max_fit > 0)
        advise(d, "run with --max-model-len %" PRId64 ", the largest that fits", m->max_fit);
    else if (!m->fits)
        advise(d, "the weights alone do not fit: %s", d->gpu >= 0 && d->rec_gtt_mib ? "raise GTT (above) or use a "
                                                                                        "smaller or quantized model"
                                                                                      : "use a smaller or quantized model");
}

/* ---- output ----------------------------------------------------------------- */

static const char *status_name(sc_dr_status s) { return s == SC_DR_OK ? "OK" : s == SC_DR_WARN ? "WARN" : "FAIL"; }

static sc_dr_status worst(const sc_doctor *d) {
    sc_dr_status w = SC_DR_OK;
    for (int i = 0; i < d->n_checks; i++)
        if (d->checks[i].status > w)
            w = d->checks[i].status;
    return w;
}

static void karg_json(FILE *f, const char *name, const sc_dr_karg *a, bool last) {
    sc_cli_json_string(f, name);
    fputs(": ", f);
    if (a->set)
        sc_cli_json_string(f, a->value);
    else
        fputs("null", f);
    fputs(last ? "" : ", ", f);
}

static void print_json(FILE *f, const sc_doctor *d, sc_registry_t *reg, const sc_dr_model *m) {
    fputs("{\n  \"root\": ", f);
    sc_cli_json_string(f, d->root[0] ? d->root : "/");
    fputs(",\n  \"machine\": {\n    \"cmdline\": ", f);
    if (d->have_cmdline)
        sc_cli_json_string(f, d->cmdline);
    else
        fputs("null", f);
    fputs(",\n    \"kernel_args\": {", f);
    karg_json(f, "amdgpu.gttsize", &d->gttsize, false);
    karg_json(f, "ttm.pages_limit", &d->pages_limit, false);
    karg_json(f, "amd_iommu", &d->amd_iommu, false);
    karg_json(f, "iommu", &d->iommu, true);
    fprintf(f, "},\n    \"ram_total_bytes\": %" PRIu64 ", \"ram_available_bytes\": %" PRIu64
               ", \"ram_installed_bytes\": %" PRIu64 ",\n    \"cards\": [",
            d->mem_total, d->mem_available, d->ram_rounded);
    for (int i = 0; i < d->n_cards; i++) {
        const sc_dr_card *c = &d->cards[i];
        fputs(i ? ", {\"name\": " : "{\"name\": ", f);
        sc_cli_json_string(f, c->name);
        fputs(", \"vendor\": ", f);
        sc_cli_json_string(f, c->vendor);
        fputs(", \"device\": ", f);
        sc_cli_json_string(f, c->device);
        fprintf(f, ", \"amdgpu\": %s, \"vram_total_bytes\": %" PRIu64 ", \"gtt_total_bytes\": %" PRIu64 "}",
                c->amdgpu ? "true" : "false", c->vram_total, c->gtt_total);
    }
    fputs("],\n    \"gpu\": ", f);
    if (d->gpu >= 0)
        sc_cli_json_string(f, d->cards[d->gpu].name);
    else
        fputs("null", f);
    fprintf(f, ",\n    \"kfd\": {\"exists\": %s, \"access\": %s},\n    \"render_nodes\": [",
            d->kfd_exists ? "true" : "false", d->kfd_access ? "true" : "false");
    for (int i = 0; i < d->n_nodes; i++) {
        fputs(i ? ", {\"path\": " : "{\"path\": ", f);
        sc_cli_json_string(f, d->nodes[i].path);
        fprintf(f, ", \"access\": %s}", d->nodes[i].access ? "true" : "false");
    }
    fputs("],\n    \"user\": ", f);
    sc_cli_json_string(f, d->user);
    fprintf(f, ", \"in_render\": %s, \"in_video\": %s\n  },\n", d->in_render ? "true" : "false",
            d->in_video ? "true" : "false");
    fputs("  \"recommended_kernel_args\": ", f);
    if (d->gpu >= 0 && d->rec_gtt_mib)
        fprintf(f, "{\"amdgpu.gttsize\": %" PRIu64 ", \"ttm.pages_limit\": %" PRIu64 "}", d->rec_gtt_mib,
                d->rec_pages);
    else
        fputs("null", f);
    fprintf(f, ",\n  \"devices_from_host\": %s,\n  \"devices\": [", d->root[0] ? "true" : "false");
    for (int i = 0; reg && i < sc_registry_device_count(reg); i++) {
        sc_device_t *dev = sc_registry_device(reg, i);
        sc_device_props p;
        sc_device_get_props(dev, &p);
        fputs(i ? ",\n    {\"backend\": " : "\n    {\"backend\": ", f);
        sc_cli_json_string(f, sc_device_backend_name(dev));
        fputs(", \"name\": ", f);
        sc_cli_json_string(f, sc_device_name(dev));
        fprintf(f, ", \"type\": \"%s\", \"memory_total\": %" PRIu64 ", \"description\": ",
                sc_cli_device_type_name(p.type), p.memory_total);
        sc_cli_json_string(f, p.description);
        fputc('}', f);
    }
    fputs("],\n  \"checks\": [", f);
    for (int i = 0; i < d->n_checks; i++) {
        fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
        sc_cli_json_string(f, d->checks[i].name);
        fprintf(f, ", \"status\": \"%s\", \"detail\": ", status_name(d->checks[i].status));
        sc_cli_json_string(f, d->checks[i].detail);
        fputc('}', f);
    }
    fputs("],\n  \"advice\": [", f);
    for (int i = 0; i < d->n_advice; i++) {
        fputs(i ? ",\n    " : "\n    ", f);
        sc_cli_json_string(f, d->advice[i]);
    }
    fputs("],\n  \"model\": ", f);
    if (m) {
        fputs("{\"path\": ", f);
        sc_cli_json_string(f, m->dir);
        fputs(", \"architecture\": ", f);
        sc_cli_json_string(f, m->arch);
        fprintf(f,
                ", \"weights_bytes\": %" PRIu64 ", \"kv_type\": \"%s\", \"kv_bytes_per_token\": %" PRIu64
                ", \"block_size\": %d, \"max_model_len\": %" PRId64 ", \"kv_bytes\": %" PRIu64
                ", \"budget_bytes\": %" PRIu64 ", \"budget_source\": \"%s\", \"fits\": %s"
                ", \"max_model_len_that_fits\": %" PRId64 ", \"max_position_embeddings\": %" PRId64
                ", \"state_bytes\": %" PRIu64 "}",
                m->weights_bytes, sc_type_name(m->kv_type), m->kv_bytes_per_token, m->block_size, m->max_model_len,
                m->kv_bytes, m->budget, m->budget_source, m->fits ? "true" : "false", m->max_fit,
                m->max_position_embeddings, m->state_bytes);
    } else {
        fputs("null", f);
    }
    fprintf(f, ",\n  \"status\": \"%s\"\n}\n", status_name(worst(d)));
}

static void print_text(FILE *f, const sc_doctor *d, sc_registry_t *reg, const sc_dr_model *m) {
    char a[32], b[32];
    fputs("machine", f);
    if (d->root[0]) {
        fputs(" (--root ", f);
        sc_cli_text(f, d->root);
        fputc(')', f);
    }
    fputs("\n  cmdline   ", f);
    sc_cli_text(f, d->have_cmdline ? d->cmdline : "(unreadable)");
    fprintf(f, "\n  RAM       %s total, %s available\n", gib(d->mem_total, a, sizeof(a)),
            gib(d->mem_available, b, sizeof(b)));
    for (int i = 0; i < d->n_cards; i++) {
        const sc_dr_card *c = &d->cards[i];
        fprintf(f, "  %-9s %s:%s", c->name, c->vendor[0] ? c->vendor : "?", c->device[0] ? c->device : "?");
        if (c->amdgpu)
            fprintf(f, " amdgpu, VRAM %s, GTT %s", gib(c->vram_total, a, sizeof(a)), gib(c->gtt_total, b, sizeof(b)));
        fputc('\n', f);
    }
    fprintf(f, "  user      ");
    sc_cli_text(f, d->user);
    fprintf(f, "%s\n", d->faked_user ? " (from STRIXCORE_DOCTOR_USER / _GIDS)" : "");

    fprintf(f, "\ndevices (backend plugins%s)\n", d->root[0] ? " of this machine, not --root" : "");
    for (int i = 0; reg && i < sc_registry_device_count(reg); i++) {
        sc_device_t *dev = sc_registry_device(reg, i);
        sc_device_props p;
        sc_device_get_props(dev, &p);
        sc_cli_format_bytes(p.memory_total, a, sizeof(a));
        fprintf(f, "  %-10s %-6s memory %-10s ", sc_device_name(dev), sc_cli_device_type_name(p.type), a);
        sc_cli_text(f, p.description);
        fputc('\n', f);
    }

    if (m) {
        fputs("\nmodel ", f);
        sc_cli_text(f, m->dir);
        fprintf(f, "\n  %s, weights %s, KV %" PRIu64 " bytes/token (%s)\n", m->arch, gib(m->weights_bytes, a, sizeof(a)),
                m->kv_bytes_per_token, sc_type_name(m->kv_type));
        if (m->state_bytes)
            fprintf(f, "  linear-attention state %s per sequence (fixed, beside the KV cache)\n",
                    gib(m->state_bytes, a, sizeof(a)));
        fprintf(f, "  largest --max-model-len that fits: %" PRId64 "\n", m->max_fit);
    }

    fputs("\nchecks\n", f);
    for (int i = 0; i < d->n_checks; i++) {
        fprintf(f, "  %-5s %-18s ", status_name(d->checks[i].status), d->checks[i].name);
        sc_cli_text(f, d->checks[i].detail);
        fputc('\n', f);
    }
    fputs("\nadvice\n", f);
    if (!d->n_advice)
        fputs(d->gpu >= 0 ? "  none: this machine is set up\n"
                          : "  none (no AMD GPU here: models run on the CPU backend)\n",
              f);
    for (int i = 0; i < d->n_advice; i++) {
        fprintf(f, "  %d. ", i + 1);
        sc_cli_text(f, d->advice[i]);
        fputc('\n', f);
    }
}

int sc_cmd_doctor(sc_cli *cli, int argc, char **argv) {
    dr_opts o;
    sc_doctor *d;
    sc_dr_model model, *m = NULL;
    sc_registry_t *reg;
    char err[1200];
    int rc = parse_opts(argc, argv, &o);

    if (rc != SC_CLI_OK)
        return rc;
    d = calloc(1, sizeof(*d));
    if (!d) {
        fputs("strixcore doctor: out of memory\n", stderr);
        return SC_CLI_FAIL;
    }
    if (o.root && strcmp(o.root, "/") != 0) {
        size_t n = strlen(o.root);
        while (n > 1 && o.root[n - 1] == '/')
            n--;
        if (n >= sizeof(d->root)) {
            free(d);
            return doctor_usage("--root is too long:", o.root);
        }
        memcpy(d->root, o.root, n);
        d->root[n] = '\0';
    }
    memset(&model, 0, sizeof(model));
    if (o.model) {
        model.dir = sc__doctor_resolve_model(o.model, err, sizeof(err));
        if (!model.dir) {
            fprintf(stderr, "strixcore doctor: %s\n", err);
            free(d);
            return SC_CLI_FAIL;
        }
    }

    sc__doctor_probe(d);
    reg = sc_cli_registry(cli);
    check_ram(d);
    check_gpu(d);
    check_dev(d);
    check_groups(d);
    check_devices(d, cli, reg);
    if (o.model) {
        const char *src = "";
        uint64_t budget = model_budget(d, &src);
        model.max_model_len = o.max_model_len;
        model.kv_type = o.kv;
        if (sc__doctor_model(&model, budget, src, err, sizeof(err)) != SC_CLI_OK) {
            fprintf(stderr, "strixcore doctor: %s\n", err);
            free(model.dir);
            free(d);
            return SC_CLI_FAIL;
        }
        m = &model;
        check_model(d, m);
    }
    if (o.json)
        print_json(stdout, d, reg, m);
    else
        print_text(stdout, d, reg, m);
    rc = worst(d) == SC_DR_FAIL ? SC_CLI_FAIL : SC_CLI_OK;
    free(model.dir);
    free(d);
    return rc;
}
