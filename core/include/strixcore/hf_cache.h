/*
 * strixcore/hf_cache.h - models by Hugging Face repo id, from the cache that
 * huggingface_hub shares (no network here; `strixcore pull` fills it).
 *
 *   <cache>/models--ORG--NAME/refs/<rev>                 the commit sha of <rev>
 *   <cache>/models--ORG--NAME/blobs/<etag>               file contents
 *   <cache>/models--ORG--NAME/snapshots/<commit>/<path>  -> ../../blobs/<etag>
 *
 * <cache> is $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub,
 * where $HF_HOME defaults to $XDG_CACHE_HOME/huggingface, else
 * ~/.cache/huggingface. See docs/models.md.
 */
#ifndef STRIXCORE_HF_CACHE_H
#define STRIXCORE_HF_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "strixcore/strixcore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* True when `s` has the form ORG/NAME or ORG/NAME@REV (names of letters,
 * digits, '-', '_', '.', not starting with '.'; REV without ".."). It says
 * nothing about whether such a repo exists. */
SC_API bool sc_hf_is_repo_id(const char *s);

/* Split ORG/NAME[@REV] into repo and rev (default "main"). SC_EINVAL when `s`
 * is not a repo id, SC_ERANGE when a buffer is too small. */
SC_API int sc_hf_repo_parse(const char *s, char *repo, size_t repo_len, char *rev, size_t rev_len);

/* HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE set to 1/true/yes/on. */
SC_API bool sc_hf_offline(void);

/* $HF_HOME with its default, and the hub cache directory (see above).
 * SC_ERANGE when buf is too small, SC_ENOENT when not even $HOME is set. */
SC_API int sc_hf_home(char *buf, size_t len);
SC_API int sc_hf_hub_cache(char *buf, size_t len);

/* <cache>/models--ORG--NAME for repo "ORG/NAME". */
SC_API int sc_hf_repo_dir(const char *repo, char *buf, size_t len);

/* The snapshot directory of repo at rev: a 40-hex rev is a commit; any other
 * is looked up in refs/<rev>. SC_ENOENT (with a message naming the cache path
 * in err) when the cache has no such snapshot. */
SC_API int sc_hf_snapshot_dir(const char *repo, const char *rev, char *buf, size_t len, char *err,
                              size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
