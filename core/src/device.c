/*
 * core/src/device.c - devices, buffers, and placing tensors in buffers.
 *
 * Everything here sits between the core's objects and a backend's table:
 * every optional member is checked with SC_BE_HAS before it is called, and
 * every byte range handed to a backend has been bounds-checked first, so a
 * backend never has to defend itself against the core.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tune.h"

/* Views chain to at most this depth; deeper means a cycle (a bug). */
#define SC_MAX_VIEW_DEPTH 64

int sc__device_open(sc_plugin_entry *pe, int index, sc_device_t **out) {
    const sc_backend_iface *be = pe->backend;
    sc_device_t *d;
    int rc, count;

    *out = NULL;
    d = calloc(1, sizeof(*d));
    if (!d)
        return SC_ENOMEM;
    d->plugin = pe;
    d->be = be;
    d->index = index;
    d->score = pe->rec.desc.score;
    d->props.struct_size = sizeof(d->props);
    rc = be->device_props(pe->ctx, index, &d->props);
    if (rc < 0)
        goto fail;
    d->props.struct_size = sizeof(d->props);
    d->props.name[sizeof(d->props.name) - 1] = '\0';
    d->props.description[sizeof(d->props.description) - 1] = '\0';
    d->props.driver[sizeof(d->props.driver) - 1] = '\0';
    if (d->props.n_buffer_types < 1) {
        rc = SC_EBACKEND; /* no buffer type 0: nothing could be allocated */
        goto fail;
    }
    rc = be->device_open(pe->ctx, index, &d->dev);
    if (rc < 0)
        goto fail;
    /* Device names are the core's, not the plugin's, so that they are unique:
     * the backend name for a single device, name + index otherwise. */
    count = be->device_count(pe->ctx);
    if (count == 1)
        snprintf(d->name, sizeof(d->name), "%s", pe->rec.desc.name);
    else
        snprintf(d->name, sizeof(d->name), "%s%d", pe->rec.desc.name, index);
    *out = d;
    return SC_OK;
fail:
    free(d);
    return rc;
}

void sc__device_close(sc_device_t *d) {
    if (!d)
        return;
    if (d->tuner && d->tuner->dirty)
        sc__tune_file_save(d->tuner);
    sc__tune_free(d);
    if (d->stream)
        d->be->stream_destroy(d->stream);
    d->be->device_close(d->dev);
    free(d);
}

int sc__device_stream(sc_device_t *d, void **stream) {
    if (!d || !stream)
        return SC_EINVAL;
    if (!d->stream) {
        int rc = d->be->stream_create(d->dev, &d->stream);
        if (rc < 0) {
            d->stream = NULL;
            return rc;
        }
    }
    *stream = d->stream;
    return SC_OK;
}

const char *sc_device_name(const sc_device_t *dev) { return dev ? dev->name : NULL; }

const char *sc_device_backend_name(const sc_device_t *dev) {
    return dev ? dev->plugin->rec.desc.name : NULL;
}

int sc_device_get_props(const sc_device_t *dev, sc_device_props *props) {
    if (!dev || !props)
        return SC_EINVAL;
    *props = dev->props;
    return SC_OK;
}

bool sc_device_supports_op(sc_device_t *dev, const sc_tensor *node) {
    if (!dev || !node)
        return false;
    return dev->be->supports_op(dev->dev, node);
}

bool sc_device_offload_op(sc_device_t *dev, const sc_tensor *node) {
    if (!dev || !node || !SC_BE_HAS(dev->be, offload_op))
        return false;
    return dev->be->offload_op(dev->dev, node);
}

int sc_device_tune_query(sc_device_t *dev, const sc_tensor *node, sc_tune_info *info) {
    if (!dev || !node || !info)
        return SC_EINVAL;
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    if (!SC_BE_HAS(dev->be, tune_query) || !SC_BE_HAS(dev->be, tune_set))
        return SC_ENOTSUP;
    int rc = dev->be->tune_query(dev->dev, node, info);
    if (rc != SC_OK)
        return rc == SC_ENOTSUP ? rc : SC_EBACKEND;
    /* a plugin's answer is checked like any other input */
    info->key[sizeof info->key - 1] = '\0';
    if (!info->key[0] || info->n_variants < 1 || info->n_variants > SC_TUNE_MAX_VARIANTS ||
        info->default_variant < 0 || info->default_variant >= info->n_variants || info->current < 0 ||
        info->current >= info->n_variants)
        return SC_EBACKEND;
    for (const char *c = info->key; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("._:=,+-", *c)))
            return SC_EBACKEND;
    for (int i = 0; i < info->n_variants; i++) {
        info->variants[i][SC_TUNE_NAME_LEN - 1] = '\0';
        if (!info->variants[i][0])
            return SC_EBACKEND;
    }
    return SC_OK;
}

int sc_device_tune_set(sc_device_t *dev, const char *key, const char *variant) {
    if (!dev || !key)
        return SC_EINVAL;
    if (!SC_BE_HAS(dev->be, tune_query) || !SC_BE_HAS(dev->be, tune_set))
        return SC_ENOTSUP;
    return dev->be->tune_set(dev->dev, key, variant);
}

/* ------------------------------------------------------------------------ */
/* buffers                                                                   */
/* ------------------------------------------------------------------------ */

/* Alignment of buffer type 0 (the one the core allocates from). */
static int buft_alignment(sc_device_t *dev, sc_buffer_type_props *bp, size_t *align) {
    int rc;
    memset(bp, 0, sizeof(*bp));
    bp->struct_size = sizeof(*bp);
    rc = dev->be->buffer_type_props(dev->dev, 0, bp);
    if (rc < 0)
        return rc;
    *align = bp->alignment ? bp->alignment : 1;
    if ((*align & (*align - 1)) != 0) {
        sc_log(SC_LOG_ERROR, "device", "%s: buffer alignment %zu is not a power of two", dev->name, *align);
        return SC_EBACKEND;
    }
    return SC_OK;
}

int sc_buffer_create(sc_device_t *dev, size_t size, sc_buffer_t **out) {
    sc_buffer_type_props bp;
    sc_buffer_t *b;
    size_t align;
    int rc;

    if (!out)
        return SC_EINVAL;
    *out = NULL;
    if (!dev || size == 0)
        return SC_EINVAL;
    rc = buft_alignment(dev, &bp, &align);
    if (rc < 0)
        return rc;
    b = calloc(1, sizeof(*b));
    if (!b)
        return SC_ENOMEM;
    b->dev = dev;
    b->size = size;
    b->alignment = align;
    rc = dev->be->buffer_alloc(dev->dev, 0, size, &b->handle, &b->base);
    if (rc < 0) {
        free(b);
        return rc;
    }
    /* Tensor offsets are checked against the alignment, which only means
     * something if the base honours it too. */
    if ((uintptr_t)b->base % align != 0) {
        sc_log(SC_LOG_ERROR, "device", "%s: buffer base %p is not %zu-byte aligned", dev->name, b->base, align);
        dev->be->buffer_free(dev->dev, b->handle);
        free(b);
        return SC_EBACKEND;
    }
    if (bp.host_visible && SC_BE_HAS(dev->be, buffer_host_ptr))
        b->host = dev->be->buffer_host_ptr(dev->dev, b->handle);
    *out = b;
    return SC_OK;
}

void sc_buffer_destroy(sc_buffer_t *buf) {
    if (!buf)
        return;
    buf->dev->be->buffer_free(buf->dev->dev, buf->handle);
    free(buf);
}

size_t sc_buffer_size(const sc_buffer_t *buf) { return buf ? buf->size : 0; }
size_t sc_buffer_alignment(const sc_buffer_t *buf) { return buf ? buf->alignment : 0; }
sc_device_t *sc_buffer_device(const sc_buffer_t *buf) { return buf ? buf->dev : NULL; }
void *sc_buffer_host_ptr(const sc_buffer_t *buf) { return buf ? buf->host : NULL; }

/* ------------------------------------------------------------------------ */
/* tensors in buffers                                                        */
/* ------------------------------------------------------------------------ */

/* The tensor owning t's memory and t's byte offset from it. NULL on a cycle. */
static const sc_tensor *view_root(const sc_tensor *t, size_t *offs) {
    size_t o = 0;
    for (int depth = 0; t->view_src; depth++) {
        if (depth == SC_MAX_VIEW_DEPTH || o + t->view_offs < o)
            return NULL;
        o += t->view_offs;
        t = t->view_src;
    }
    *offs = o;
    return t;
}

int sc_tensor_alloc(sc_buffer_t *buf, sc_tensor *t, size_t offset) {
    size_t nbytes;
    if (!buf || !t)
        return SC_EINVAL;
    /* A view has no memory of its own; it follows its source. */
    if (t->view_src)
        return SC_EINVAL;
    if (t->type < 0 || t->type >= SC_TYPE_COUNT)
        return SC_EINVAL;
    if (offset % buf->alignment != 0)
        return SC_EINVAL;
    nbytes = sc_tensor_nbytes(t);
    if (offset > buf->size || nbytes > buf->size - offset)
        return SC_ERANGE;
    t->buffer = buf;
    t->data = (void *)((uintptr_t)buf->base + offset);
    return SC_OK;
}

int sc_alloc_tensors(sc_device_t *dev, sc_tensor **ts, int n, sc_buffer_t **out) {
    sc_buffer_type_props bp;
    size_t align, total = 0;
    sc_buffer_t *buf;
    int rc;

    if (!out)
        return SC_EINVAL;
    *out = NULL;
    if (!dev || !ts || n <= 0)
        return SC_EINVAL;
    rc = buft_alignment(dev, &bp, &align);
    if (rc < 0)
        return rc;
    /* First pass: lay the tensors out back to back, each aligned. */
    for (int i = 0; i < n; i++) {
        size_t nb, start;
        if (!ts[i])
            return SC_EINVAL;
        if (ts[i]->view_src)
            continue;
        nb = sc_tensor_nbytes(ts[i]);
        start = SC_ALIGN_UP(total, align);
        if (start < total || start + nb < start)
            return SC_EOVERFLOW;
        total = start + nb;
    }
    rc = sc_buffer_create(dev, total ? total : align, &buf);
    if (rc < 0)
        return rc;
    total = 0;
    for (int i = 0; i < n && rc == SC_OK; i++) {
        if (ts[i]->view_src)
            continue;
        total = SC_ALIGN_UP(total, align);
        rc = sc_tensor_alloc(buf, ts[i], total);
        total += sc_tensor_nbytes(ts[i]);
    }
    /* Views among ts share their (now placed) source's memory. */
    for (int i = 0; i < n && rc == SC_OK; i++) {
        size_t offs;
        const sc_tensor *root;
        if (!ts[i]->view_src)
            continue;
        root = view_root(ts[i], &offs);
        if (!root || !root->buffer) {
            rc = SC_ESTATE;
            break;
        }
        ts[i]->buffer = root->buffer;
        ts[i]->data = (void *)((uintptr_t)root->data + offs);
    }
    if (rc < 0) {
        sc_buffer_destroy(buf);
        return rc;
    }
    *out = buf;
    return SC_OK;
}

/* Resolve t to (buffer, byte position of t's element 0) and check that
 * [offset, offset + size) lies inside both the tensor and the buffer. */
static int locate(const sc_tensor *t, size_t offset, size_t size, sc_buffer_t **buf, size_t *pos) {
    const sc_tensor *root;
    size_t voffs, nbytes, rpos;
    sc_buffer_t *b;

    root = view_root(t, &voffs);
    if (!root)
        return SC_EINVAL;
    b = root->buffer;
    if (!b || !root->data)
        return SC_ESTATE; /* not allocated yet */
    nbytes = sc_tensor_nbytes(t);
    if (offset > nbytes || size > nbytes - offset)
        return SC_ERANGE;
    if ((uintptr_t)root->data < (uintptr_t)b->base)
        return SC_ESTATE;
    rpos = (size_t)((uintptr_t)root->data - (uintptr_t)b->base);
    /* rpos + voffs + offset + size <= b->size, without overflow */
    if (rpos > b->size || voffs > b->size - rpos || offset > b->size - rpos - voffs ||
        size > b->size - rpos - voffs - offset)
        return SC_ERANGE;
    *buf = b;
    *pos = rpos + voffs + offset;
    return SC_OK;
}

int sc_tensor_set(sc_tensor *t, const void *data, size_t offset, size_t size) {
    sc_buffer_t *b;
    size_t pos;
    int rc;

    if (!t || (!data && size))
        return SC_EINVAL;
    rc = locate(t, offset, size, &b, &pos);
    if (rc < 0 || size == 0)
        return rc;
    if (b->host) {
        memcpy((char *)b->host + pos, data, size);
        return SC_OK;
    }
    return b->dev->be->buffer_write(b->dev->dev, b->handle, pos, data, size);
}

int sc_tensor_get(const sc_tensor *t, void *data, size_t offset, size_t size) {
    sc_buffer_t *b;
    size_t pos;
    int rc;

    if (!t || (!data && size))
        return SC_EINVAL;
    rc = locate(t, offset, size, &b, &pos);
    if (rc < 0 || size == 0)
        return rc;
    if (b->host) {
        memcpy(data, (const char *)b->host + pos, size);
        return SC_OK;
    }
    return b->dev->be->buffer_read(b->dev->dev, b->handle, pos, data, size);
}
