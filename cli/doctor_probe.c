/*
 * cli/doctor_probe.c - `strixcore doctor`'s view of the machine: the kernel
 * command line, RAM, amdgpu's VRAM / GTT totals, /dev/kfd and the render
 * nodes, and the user's groups. Every path is read under d->root (--root),
 * so tests can point it at a fake tree; nothing here fails, what is missing
 * stays zero.
 *
 * Faking the user (tests): STRIXCORE_DOCTOR_USER=NAME and
 * STRIXCORE_DOCTOR_GIDS=GID,GID,... replace the process's user name and
 * group ids.
 */
#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doctor.h"

static void path_of(const sc_doctor *d, const char *p, char *out, size_t len) {
    snprintf(out, len, "%s%s", d->root, p);
}

/* Whole small file into buf, trailing whitespace cut; false if unreadable. */
static bool read_small(const char *path, char *buf, size_t len) {
    FILE *f = fopen(path, "r");
    size_t n;
    if (!f)
        return false;
    n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return true;
}

static bool read_u64(const char *path, uint64_t *out) {
    char buf[64], *end;
    unsigned long long v;
    if (!read_small(path, buf, sizeof(buf)) || !buf[0])
        return false;
    v = strtoull(buf, &end, 0);
    if (*end)
        return false;
    *out = v;
    return true;
}

/* Kernel parameter names treat '-' and '_' alike. */
static bool param_eq(const char *a, size_t alen, const char *b) {
    size_t i;
    for (i = 0; i < alen && b[i]; i++) {
        char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
        if (x != y)
            return false;
    }
    return i == alen && b[i] == '\0';
}

static void parse_cmdline(sc_doctor *d) {
    struct {
        const char *name;
        sc_dr_karg *arg;
    } wanted[] = {{"amdgpu.gttsize", &d->gttsize},
                  {"ttm.pages_limit", &d->pages_limit},
                  {"amd_iommu", &d->amd_iommu},
                  {"iommu", &d->iommu}};
    const char *p = d->cmdline;
    while (*p) {
        const char *tok, *eq;
        size_t n;
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        tok = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n')
            p++;
        n = (size_t)(p - tok);
        if (!n)
            continue;
        eq = memchr(tok, '=', n);
        for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
            size_t nl = eq ? (size_t)(eq - tok) : n;
            if (param_eq(tok, nl, wanted[i].name)) {
                size_t vl = eq ? n - nl - 1 : 0;
                if (vl >= sizeof(wanted[i].arg->value))
                    vl = sizeof(wanted[i].arg->value) - 1;
                wanted[i].arg->set = true; /* the last one wins, as in the kernel */
                memcpy(wanted[i].arg->value, eq ? eq + 1 : "", vl);
                wanted[i].arg->value[vl] = '\0';
            }
        }
    }
}

static void probe_meminfo(sc_doctor *d) {
    char path[1200], line[256];
    FILE *f;
    path_of(d, "/proc/meminfo", path, sizeof(path));
    f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long kb;
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
            d->mem_total = kb * 1024ull, d->have_meminfo = true;
        else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            d->mem_available = kb * 1024ull;
    }
    fclose(f);
}

static int card_cmp(const void *a, const void *b) {
    const sc_dr_card *x = a, *y = b;
    int nx = atoi(x->name + 4), ny = atoi(y->name + 4);
    return (nx > ny) - (nx < ny);
}

static bool all_digits(const char *s) {
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static void probe_cards(sc_doctor *d) {
    char path[1200];
    DIR *dir;
    struct dirent *e;
    d->gpu = -1;
    path_of(d, "/sys/class/drm", path, sizeof(path));
    dir = opendir(path);
    if (!dir)
        return;
    while ((e = readdir(dir)) != NULL && d->n_cards < SC_DR_MAX_CARDS) {
        sc_dr_card *c = &d->cards[d->n_cards];
        char base[1500], f[1540]; /* path (1200) + d_name (256) + suffixes: never truncated */
        if (strncmp(e->d_name, "card", 4) != 0 || !all_digits(e->d_name + 4) || strlen(e->d_name) >= sizeof(c->name))
            continue;
        memset(c, 0, sizeof(*c));
        memcpy(c->name, e->d_name, strlen(e->d_name) + 1); /* length checked above */
        snprintf(base, sizeof(base), "%s/%s/device", path, e->d_name);
        snprintf(f, sizeof(f), "%s/vendor", base);
        read_small(f, c->vendor, sizeof(c->vendor));
        snprintf(f, sizeof(f), "%s/device", base);
        read_small(f, c->device, sizeof(c->device));
        snprintf(f, sizeof(f), "%s/mem_info_gtt_total", base);
        c->amdgpu = read_u64(f, &c->gtt_total);
        snprintf(f, sizeof(f), "%s/mem_info_vram_total", base);
        read_u64(f, &c->vram_total);
        d->n_cards++;
    }
    closedir(dir);
    qsort(d->cards, (size_t)d->n_cards, sizeof(d->cards[0]), card_cmp);
    for (int i = 0; i < d->n_cards; i++)
        if (d->cards[i].amdgpu &&
            (d->gpu < 0 || d->cards[i].vram_total + d->cards[i].gtt_total >
                               d->cards[d->gpu].vram_total + d->cards[d->gpu].gtt_total))
            d->gpu = i;
}

static int node_cmp(const void *a, const void *b) { return strcmp(((const sc_dr_node *)a)->path, ((const sc_dr_node *)b)->path); }

static void probe_dev(sc_doctor *d) {
    char path[1200];
    DIR *dir;
    struct dirent *e;
    struct stat st;
    path_of(d, "/dev/kfd", path, sizeof(path));
    d->kfd_exists = stat(path, &st) == 0;
    d->kfd_access = d->kfd_exists && access(path, R_OK | W_OK) == 0;
    path_of(d, "/dev/dri", path, sizeof(path));
    dir = opendir(path);
    if (!dir)
        return;
    while ((e = readdir(dir)) != NULL && d->n_nodes < SC_DR_MAX_NODES) {
        sc_dr_node *n = &d->nodes[d->n_nodes];
        char full[1500]; /* path (1200) + d_name (256): never truncated */
        size_t nl = strlen(e->d_name);
        if (strncmp(e->d_name, "renderD", 7) != 0 || nl > 32)
            continue;
        memcpy(n->path, "/dev/dri/", 9); /* 9 + 32 + 1 <= sizeof n->path */
        memcpy(n->path + 9, e->d_name, nl + 1);
        snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
        n->access = access(full, R_OK | W_OK) == 0;
        d->n_nodes++;
    }
    closedir(dir);
    qsort(d->nodes, (size_t)d->n_nodes, sizeof(d->nodes[0]), node_cmp);
}

static bool has_gid(const sc_doctor *d, gid_t g) {
    for (int i = 0; i < d->n_gids; i++)
        if (d->gids[i] == g)
            return true;
    return false;
}

/* Is user in the comma-separated member list? */
static bool member_of(const char *members, const char *user) {
    size_t ul = strlen(user);
    const char *p = members;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == ul && strncmp(p, user, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

static void probe_user(sc_doctor *d) {
    const char *fu = getenv("STRIXCORE_DOCTOR_USER"), *fg = getenv("STRIXCORE_DOCTOR_GIDS");
    char path[1200], line[4096];
    FILE *f;
    if (fu && fu[0]) {
        snprintf(d->user, sizeof(d->user), "%s", fu);
        d->faked_user = true;
    } else {
        struct passwd *pw = getpwuid(geteuid());
        if (pw && pw->pw_name)
            snprintf(d->user, sizeof(d->user), "%s", pw->pw_name);
        else
            snprintf(d->user, sizeof(d->user), "uid%u", (unsigned)geteuid());
        d->is_root = geteuid() == 0;
    }
    if (fg) {
        char *copy = strdup(fg), *save = NULL;
        d->faked_user = true;
        d->is_root = false;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && d->n_gids < SC_DR_MAX_GIDS;
             t = strtok_r(NULL, ",", &save))
            d->gids[d->n_gids++] = (gid_t)strtoul(t, NULL, 10);
        free(copy);
    } else {
        int n = getgroups(SC_DR_MAX_GIDS - 1, d->gids);
        d->n_gids = n > 0 ? n : 0;
        if (!has_gid(d, getegid()))
            d->gids[d->n_gids++] = getegid();
    }
    path_of(d, "/etc/group", path, sizeof(path));
    f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        char *name, *pw, *gid, *members, *save = NULL;
        bool render, video;
        line[strcspn(line, "\n")] = '\0';
        name = strtok_r(line, ":", &save);
        pw = name ? strtok_r(NULL, ":", &save) : NULL;
        gid = pw ? strtok_r(NULL, ":", &save) : NULL;
        members = gid ? strtok_r(NULL, ":", &save) : NULL;
        if (!gid)
            continue;
        render = strcmp(name, "render") == 0;
        video = strcmp(name, "video") == 0;
        if (!render && !video)
            continue;
        bool in = has_gid(d, (gid_t)strtoul(gid, NULL, 10));
        bool listed = members && member_of(members, d->user);
        if (render)
            d->render_exists = true, d->in_render = in, d->listed_render = listed;
        else
            d->video_exists = true, d->in_video = in, d->listed_video = listed;
    }
    fclose(f);
}

/* RAM = MemTotal + carve-out, up to a multiple of 8 GiB (firmware and the
 * kernel keep some that MemTotal never shows); GTT = RAM - 4 GiB for the
 * OS, in MiB for amdgpu.gttsize and 4 KiB pages for ttm.pages_limit.
 * 128 GiB -> 126976 MiB and 32505856 pages. */
static void recommend(sc_doctor *d) {
    uint64_t vram = d->gpu >= 0 ? d->cards[d->gpu].vram_total : 0, ram;
    if (!d->have_meminfo)
        return;
    ram = d->mem_total + vram;
    ram = (ram + SC_DR_RAM_STEP - 1) / SC_DR_RAM_STEP * SC_DR_RAM_STEP;
    d->ram_rounded = ram;
    if (ram <= SC_DR_OS_RESERVE)
        return;
    d->rec_gtt_mib = (ram - SC_DR_OS_RESERVE) / SC_DR_MIB;
    d->rec_pages = d->rec_gtt_mib * (SC_DR_MIB / 4096);
}

void sc__doctor_probe(sc_doctor *d) {
    char path[1200];
    path_of(d, "/proc/cmdline", path, sizeof(path));
    d->have_cmdline = read_small(path, d->cmdline, sizeof(d->cmdline));
    if (d->have_cmdline)
        parse_cmdline(d);
    probe_meminfo(d);
    probe_cards(d);
    probe_dev(d);
    probe_user(d);
    recommend(d);
}
