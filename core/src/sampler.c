/*
 * core/src/sampler.c - logits -> token: penalties, temperature, top-k, top-p,
 * min-p, then a draw from the sampler's own random stream.
 *
 * Vocabularies reach 152k entries, so nothing here sorts the whole
 * vocabulary: top-k is a one-pass heap (small k) or a quickselect, and top-p
 * finds its cut with a histogram of the logits and sorts only the one bin
 * the cut falls in. Temperature and min-p alone run in place on the logits.
 * Sampling Qwen3's defaults (top-k 20, top-p 0.95) over 152k logits costs
 * about as much as an argmax.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "strixcore/sampler.h"

/* One candidate token: its id and its (penalised, tempered) logit. */
typedef struct sc_cand {
    float l;
    int32_t id;
} sc_cand;

#define TOPP_BINS 4096 /* histogram bins of the top-p cut (top_p_cut) */

/* flags[] bits */
enum { SEEN = 1, IN_PROMPT = 2 };

struct sc_sampler {
    sc_sampler_params p;
    int32_t n_vocab;
    uint64_t rng[4];       /* xoshiro256** state */
    int32_t *out_count;    /* [n_vocab] times each token was generated */
    uint8_t *flags;        /* [n_vocab] SEEN / IN_PROMPT */
    int32_t *seen;         /* distinct ids in prompt or output: the penalties visit only these */
    size_t n_seen, cap_seen;
    sc_cand *cand;         /* [n_vocab] scratch */
    double *bin_mass;      /* [TOPP_BINS] top-p histogram */
};

/* ------------------------------------------------------------------------ */
/* random stream: splitmix64 expands the seed, xoshiro256** generates       */
/* ------------------------------------------------------------------------ */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t s[4]) {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double uniform01(uint64_t s[4]) { return (double)(xoshiro_next(s) >> 11) * 0x1.0p-53; }

static void seed_rng(uint64_t s[4], uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        s[i] = splitmix64(&x);
}

/* ------------------------------------------------------------------------ */
/* parameters                                                                */
/* ------------------------------------------------------------------------ */
void sc_sampler_params_default(sc_sampler_params *p) {
    memset(p, 0, sizeof(*p));
    p->temperature = 1.0f;
    p->top_p = 1.0f;
    p->repetition_penalty = 1.0f;
}

void sc_sampler_params_from_gen(sc_sampler_params *p, const sc_generation_config *gen) {
    sc_sampler_params_default(p);
    if (!gen)
        return;
    /* HF: do_sample == false is greedy whatever the temperature says. */
    p->temperature = gen->do_sample ? gen->temperature : 0.0f;
    p->top_k = gen->top_k;
    p->top_p = gen->top_p > 0.0f ? gen->top_p : 1.0f;
    p->min_p = gen->min_p;
    p->repetition_penalty = gen->repetition_penalty > 0.0f ? gen->repetition_penalty : 1.0f;
}

int sc_sampler_params_check(const sc_sampler_params *p, char *err, size_t err_len) {
    const char *msg = NULL;
    if (!p)
        msg = "no sampling parameters";
    else if (!isfinite(p->temperature) || p->temperature < 0.0f)
        msg = "temperature must be >= 0";
    else if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        msg = "top_p must be in (0, 1]";
    else if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        msg = "min_p must be in [0, 1]";
    else if (!isfinite(p->repetition_penalty) || p->repetition_penalty <= 0.0f)
        msg = "repetition_penalty must be > 0";
    else if (!(p->presence_penalty >= -2.0f && p->presence_penalty <= 2.0f))
        msg = "presence_penalty must be in [-2, 2]";
    else if (!(p->frequency_penalty >= -2.0f && p->frequency_penalty <= 2.0f))
        msg = "frequency_penalty must be in [-2, 2]";
    if (err && err_len)
        snprintf(err, err_len, "%s", msg ? msg : "");
    return msg ? SC_EINVAL : SC_OK;
}

/* ------------------------------------------------------------------------ */
/* lifetime and history                                                      */
/* ------------------------------------------------------------------------ */
sc_sampler_t *sc_sampler_create(const sc_sampler_params *p, int32_t n_vocab) {
    sc_sampler_t *s;
    if (n_vocab <= 0 || sc_sampler_params_check(p, NULL, 0) != SC_OK)
        return NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->p = *p;
    s->n_vocab = n_vocab;
    s->out_count = calloc((size_t)n_vocab, sizeof(*s->out_count));
    s->flags = calloc((size_t)n_vocab, sizeof(*s->flags));
    s->cand = malloc((size_t)n_vocab * sizeof(*s->cand));
    s->bin_mass = malloc(TOPP_BINS * sizeof(*s->bin_mass));
    if (!s->out_count || !s->flags || !s->cand || !s->bin_mass) {
        sc_sampler_free(s);
        return NULL;
    }
    seed_rng(s->rng, p->seed);
    return s;
}

void sc_sampler_free(sc_sampler_t *s) {
    if (!s)
        return;
    free(s->out_count);
    free(s->flags);
    free(s->seen);
    free(s->cand);
    free(s->bin_mass);
    free(s);
}

void sc_sampler_reset(sc_sampler_t *s) {
    /* Clearing only the ids in `seen` keeps a reset O(history), not O(vocab). */
    for (size_t i = 0; i < s->n_seen; i++) {
        s->out_count[s->seen[i]] = 0;
        s->flags[s->seen[i]] = 0;
    }
    s->n_seen = 0;
    seed_rng(s->rng, s->p.seed);
}

static int mark_seen(sc_sampler_t *s, int32_t id) {
    if (s->flags[id] & SEEN)
        return SC_OK;
    if (s->n_seen == s->cap_seen) {
        size_t cap = s->cap_seen ? s->cap_seen * 2 : 256;
        int32_t *p = realloc(s->seen, cap * sizeof(*p));
        if (!p)
            return SC_ENOMEM;
        s->seen = p;
        s->cap_seen = cap;
    }
    s->seen[s->n_seen++] = id;
    s->flags[id] |= SEEN;
    return SC_OK;
}

int sc_sampler_add_prompt(sc_sampler_t *s, const int32_t *ids, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (ids[i] < 0 || ids[i] >= s->n_vocab)
            continue;
        if ((rc = mark_seen(s, ids[i])) < 0)
            return rc;
        s->flags[ids[i]] |= IN_PROMPT;
    }
    return SC_OK;
}

int sc_sampler_accept(sc_sampler_t *s, int32_t id) {
    int rc;
    if (id < 0 || id >= s->n_vocab)
        return SC_EINVAL;
    if ((rc = mark_seen(s, id)) < 0)
        return rc;
    s->out_count[id]++;
    return SC_OK;
}

void sc_sampler_apply_penalties(const sc_sampler_t *s, float *logits) {
    const float rep = s->p.repetition_penalty;
    const float pres = s->p.presence_penalty, freq = s->p.frequency_penalty;
    if (rep == 1.0f && pres == 0.0f && freq == 0.0f)
        return;
    for (size_t i = 0; i < s->n_seen; i++) {
        const int32_t id = s->seen[i];
        const int32_t c = s->out_count[id];
        float l = logits[id];
        /* HF: over prompt and output alike. */
        if (rep != 1.0f)
            l = l > 0.0f ? l / rep : l * rep;
        /* vLLM/OpenAI: over the output only, after the repetition penalty. */
        if (c > 0)
            l -= freq * (float)c + pres;
        logits[id] = l;
    }
}

/* ------------------------------------------------------------------------ */
/* selection                                                                 */
/* ------------------------------------------------------------------------ */
/* A strict total order: higher logit first, then lower id. Ties broken by id
 * make every selection and sort below deterministic. */
static inline bool cand_before(const sc_cand *a, const sc_cand *b) {
    return a->l > b->l || (a->l == b->l && a->id < b->id);
}

static inline void cand_swap(sc_cand *a, sc_cand *b) {
    sc_cand t = *a;
    *a = *b;
    *b = t;
}

/* Rearrange a[0..n) so that a[0..k) are the k first in cand_before order
 * (in no particular order among themselves). Quickselect, median of three. */
static void select_first(sc_cand *a, size_t n, size_t k) {
    size_t lo = 0, hi = n;
    if (k == 0 || k >= n)
        return;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2, store = lo;
        /* median of a[lo], a[mid], a[hi-1] into a[hi-1] as the pivot */
        if (cand_before(&a[mid], &a[lo]))
            cand_swap(&a[mid], &a[lo]);
        if (cand_before(&a[hi - 1], &a[lo]))
            cand_swap(&a[hi - 1], &a[lo]);
        if (cand_before(&a[mid], &a[hi - 1]))
            cand_swap(&a[mid], &a[hi - 1]);
        for (size_t i = lo; i < hi - 1; i++)
            if (cand_before(&a[i], &a[hi - 1]))
                cand_swap(&a[i], &a[store++]);
        cand_swap(&a[store], &a[hi - 1]);
        /* a[lo..store) before the pivot, a[store] pivot, the rest after it */
        if (store == k || store + 1 == k)
            return;
        if (store < k)
            lo = store + 1;
        else
            hi = store;
    }
}

static int cand_cmp(const void *x, const void *y) {
    const sc_cand *a = x, *b = y;
    return cand_before(a, b) ? -1 : cand_before(b, a) ? 1 : 0;
}

/* Greedy: the highest logit, ties to the lower id (torch.argmax). NaN and
 * -inf never win. */
static int32_t argmax(const float *l, int32_t n) {
    int32_t best = -1;
    float bv = -INFINITY;
    for (int32_t i = 0; i < n; i++)
        if (l[i] > bv) {
            bv = l[i];
            best = i;
        }
    return best;
}

/* top-k for small k: one pass over the raw logits keeping the k best in a
 * heap whose root is the worst of them. Almost every logit only meets one
 * comparison with the root (the heap changes ~k ln(V/k) times), so this
 * costs about as much as an argmax. Returns the number kept (< k only when
 * fewer than k logits are finite), plus every token tied with the k-th. */
static void heap_sift_down(sc_cand *h, size_t n, size_t i) {
    for (;;) {
        size_t c = 2 * i + 1, worst = i;
        /* the root is the candidate that comes last in cand_before order */
        if (c < n && cand_before(&h[worst], &h[c]))
            worst = c;
        if (c + 1 < n && cand_before(&h[worst], &h[c + 1]))
            worst = c + 1;
        if (worst == i)
            return;
        cand_swap(&h[i], &h[worst]);
        i = worst;
    }
}

static size_t top_k_heap(const float *logits, int32_t n_vocab, size_t k, sc_cand *h) {
    size_t n = 0;
    int32_t i = 0;
    for (; i < n_vocab && n < k; i++) {
        if (logits[i] > -INFINITY) {
            h[n].l = logits[i];
            h[n].id = i;
            n++;
        }
    }
    if (n < k)
        return n;
    for (size_t j = k / 2; j-- > 0;)
        heap_sift_down(h, k, j);
    /* hot loop: ties with the root lose to it (their id is higher) */
    for (; i < n_vocab; i++) {
        if (logits[i] > h[0].l) {
            h[0].l = logits[i];
            h[0].id = i;
            heap_sift_down(h, k, 0);
        }
    }
    /* HF keeps every token equal to the k-th value; those not in the heap
     * all have ids above the root's */
    for (i = h[0].id + 1; i < n_vocab; i++) {
        if (logits[i] == h[0].l) {
            h[n].l = logits[i];
            h[n].id = i;
            n++;
        }
    }
    return n;
}

/* top-p over cand[0..n) whose largest logit is mx. Keeps a token while the
 * mass of the tokens before it (in descending order) is < p * total; the
 * first always stays. Returns the number kept, moved to the front.
 *
 * Few candidates (after top-k): sort them and walk. Many (the whole
 * vocabulary): a histogram of the logits by distance below mx finds the one
 * bin where the cumulative mass crosses p; the bins above are kept whole,
 * the bins below dropped, and only that bin is sorted. */
/* Bin of a logit d below the max; NaN and rounding past the end land in the
 * last bin. */
static inline size_t bin_of(float d, float scale) {
    float b = d * scale;
    return b < (float)(TOPP_BINS - 1) ? (size_t)b : TOPP_BINS - 1;
}

static size_t top_p_walk(sc_cand *cand, size_t n, size_t first, float mx, double cum, double target) {
    qsort(cand + first, n - first, sizeof(*cand), cand_cmp);
    for (size_t i = first; i < n; i++) {
        if (i > 0 && cum >= target)
            return i;
        cum += (double)expf(cand[i].l - mx);
    }
    return n;
}

static size_t top_p_cut(sc_sampler_t *s, sc_cand *cand, size_t n, float mx, float top_p) {
    double z = 0.0, cum = 0.0, target;
    float mn = mx, scale;
    size_t b, front = 0, in_bin = 0;
    double *mass = s->bin_mass;

    for (size_t i = 0; i < n; i++)
        mn = cand[i].l < mn ? cand[i].l : mn;
    scale = (float)(TOPP_BINS - 1) / (mx - mn);
    if (n <= 1024 || !(mx - mn > 0.0f) || !isfinite(scale)) {
        /* few candidates, or a spread of logits that cannot be binned */
        for (size_t i = 0; i < n; i++)
            z += (double)expf(cand[i].l - mx);
        return top_p_walk(cand, n, 0, mx, 0.0, (double)top_p * z);
    }
    memset(mass, 0, TOPP_BINS * sizeof(*mass));
    for (size_t i = 0; i < n; i++) {
        double w = (double)expf(cand[i].l - mx);
        mass[bin_of(mx - cand[i].l, scale)] += w;
        z += w;
    }
    target = (double)top_p * z;
    /* bin b holds the token whose preceding mass first reaches the target */
    for (b = 0; b < TOPP_BINS - 1 && cum + mass[b] < target; b++)
        cum += mass[b];
    /* partition: bins < b to the front, then bin b; the rest is dropped */
    for (size_t i = 0; i < n; i++)
        if (bin_of(mx - cand[i].l, scale) < b)
            cand_swap(&cand[i], &cand[front++]);
    for (size_t i = front; i < n; i++)
        if (bin_of(mx - cand[i].l, scale) == b)
            cand_swap(&cand[i], &cand[front + in_bin++]);
    return top_p_walk(cand, front + in_bin, front, mx, cum, target);
}

/* The draw: u uniform in [0, total) over unnormalised probabilities w[i]
 * (stored in the candidates' l). */
static int32_t draw(sc_sampler_t *s, const sc_cand *cand, size_t n, double z) {
    double u = uniform01(s->rng) * z, cum = 0.0;
    for (size_t i = 0; i < n; i++) {
        cum += (double)cand[i].l;
        if (u < cum)
            return cand[i].id;
    }
    return cand[n - 1].id; /* u rounded up to z */
}

/* Temperature and min-p only: no candidate list, everything in place over
 * the logits array (two passes). */
static int sample_dense(sc_sampler_t *s, float *logits, int32_t *out) {
    const int32_t nv = s->n_vocab;
    const float inv_t = 1.0f / s->p.temperature, min_p = s->p.min_p;
    float mx = -INFINITY;
    double z = 0.0, u, cum = 0.0;
    int32_t last = -1;
    for (int32_t i = 0; i < nv; i++)
        mx = logits[i] > mx ? logits[i] : mx;
    if (mx == -INFINITY)
        return SC_EINVAL;
    if (mx == INFINITY) {
        for (int32_t i = 0; i < nv; i++)
            if (logits[i] == INFINITY)
                return (*out = i, SC_OK);
    }
    /* w = exp(l/T - mx/T) = prob / prob_max, so min-p is w >= min_p */
    for (int32_t i = 0; i < nv; i++) {
        float w = logits[i] > -INFINITY ? expf((logits[i] - mx) * inv_t) : 0.0f;
        logits[i] = w >= min_p ? w : 0.0f;
        z += (double)logits[i];
    }
    u = uniform01(s->rng) * z;
    for (int32_t i = 0; i < nv; i++) {
        if (logits[i] > 0.0f) {
            cum += (double)logits[i];
            last = i;
            if (u < cum)
                break;
        }
    }
    *out = last;
    return SC_OK;
}

int sc_sampler_sample(sc_sampler_t *s, float *logits, int32_t *out) {
    const sc_sampler_params *p = &s->p;
    sc_cand *cand = s->cand;
    size_t n = 0, kept;
    float mx = -INFINITY;
    double z = 0.0;

    sc_sampler_apply_penalties(s, logits);

    if (p->temperature <= 0.0f || p->top_k == 1) {
        int32_t id = argmax(logits, s->n_vocab);
        if (id < 0)
            return SC_EINVAL;
        *out = id;
        return SC_OK;
    }
    if (p->top_k <= 0 && p->top_p >= 1.0f)
        return sample_dense(s, logits, out);

    /* top-k. The selection runs on the raw logits: dividing by T > 0 keeps
     * the order, so only the survivors need the division. */
    if (p->top_k > 0 && p->top_k <= 1024 && p->top_k < s->n_vocab) {
        n = top_k_heap(logits, s->n_vocab, (size_t)p->top_k, cand);
        for (size_t i = 0; i < n; i++)
            cand[i].l /= p->temperature;
    } else {
        /* -inf (masked) and NaN logits never become candidates */
        for (int32_t i = 0; i < s->n_vocab; i++) {
            if (logits[i] > -INFINITY) {
                cand[n].l = logits[i] / p->temperature;
                cand[n].id = i;
                n++;
            }
        }
        if (p->top_k > 0 && (size_t)p->top_k < n) {
            /* large k: quickselect, then the tokens tied with the k-th */
            size_t k = (size_t)p->top_k;
            float kth = INFINITY;
            select_first(cand, n, k);
            kept = k;
            for (size_t i = 0; i < k; i++)
                kth = cand[i].l < kth ? cand[i].l : kth;
            for (size_t i = k; i < n; i++)
                if (cand[i].l == kth)
                    cand_swap(&cand[i], &cand[kept++]);
            n = kept;
        }
    }
    if (n == 0)
        return SC_EINVAL;

    for (size_t i = 0; i < n; i++)
        mx = cand[i].l > mx ? cand[i].l : mx;
    if (mx == INFINITY) {
        /* an infinite logit takes all the mass: the first such token */
        for (size_t i = 0; i < n; i++) {
            if (cand[i].l == INFINITY) {
                *out = cand[i].id;
                return SC_OK;
            }
        }
    }

    if (p->top_p < 1.0f)
        n = top_p_cut(s, cand, n, mx, p->top_p);

    /* min-p: prob_i >= min_p * prob_max  <=>  exp(l_i - mx) >= min_p (the
     * best token survives top-k and top-p, so mx is still the max); the
     * weights replace the logits for the draw */
    kept = 0;
    for (size_t i = 0; i < n; i++) {
        float w = expf(cand[i].l - mx);
        if (w >= p->min_p) {
            cand[kept].l = w;
            cand[kept].id = cand[i].id;
            z += (double)w;
            kept++;
        }
    }
    n = kept;
    *out = draw(s, cand, n, z);
    return SC_OK;
}
