/*
 * tests/backend-ops/cases_perf.c - perf-only cases: the target models' shapes.
 *
 * `backend-ops perf` times every case; these add the shapes that decide a
 * decode step's and a prompt's speed on the models strixcore serves, too big
 * for the scalar reference to check in CI, so `test`, `coverage` and `list`
 * skip them (bo_case.perf_only). Their graphs are ordinary ones, built the
 * way the test cases build theirs, and their error bounds are the test
 * cases' (cases_matmul.c, cases_attn.c, cases_recurrent.c) should anyone
 * run them through the reference. Names start with perf_: `-p perf_`
 * selects them all, `-p perf_mm(` the dense projections, `-p perf_mmid` the
 * MoE experts, `-p perf_attn` attention, `-p perf_gdn` / `-p perf_ssm_conv`
 * the Gated DeltaNet recurrences.
 *
 *   perf_mm    MUL_MAT, q4g128 and f16 weights [K, N], x f32 [K, M]:
 *              (K, N) = (5120, 5120)   Qwen3-32B q/o projection
 *                       (5120, 1024)   Qwen3-32B k/v projection
 *                       (5120, 17408)  Qwen3-32B gate/up
 *                       (17408, 5120)  Qwen3-32B down
 *                       (2048, 151936) Qwen3-30B-A3B lm_head
 *              M = 1, 2, 4, 8 (decode, a few sequences) and 512 (prefill)
 *   perf_mmid  MUL_MAT_ID, Qwen3-30B-A3B experts (E = 128, n_used = 8):
 *              gate/up K = 2048, N = 768, X = 1 (the token's input broadcast)
 *              down    K = 768, N = 2048, X = n_used (one input per expert)
 *              T = 1 (decode) and 512 (prefill); q4g128 and f16
 *   perf_attn  ATTENTION over an f16 paged cache (block 16): decode at 4096
 *              positions and a 512-token prompt, hd 128 with the heads of
 *              Qwen3-32B (64 q / 8 kv) and Qwen3-30B-A3B (32 q / 4 kv)
 *   perf_ssm_conv, perf_gdn  a Qwen3-Next-80B Gated DeltaNet layer's
 *              recurrent ops (cases_recurrent.c's builders): SSM_CONV of
 *              x [512, 16, T] out of the [16 x 768, T] projection, Kc 4;
 *              GATED_DELTA_NET nk 16, nv 32, dk = dv 128. T = 1 (one
 *              sequence at position 100), 4 (four sequences, one token each)
 *              and 512 (a prompt from position 0). Each copy has its own
 *              state (perf.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bo.h"

/* ---- MUL_MAT: w [K, N], x f32 [K, M] -> f32 [N, M] */
static sc_tensor *build_perf_mm(bo_env *e, const bo_case *c) {
    const bo_p_mm *p = &c->p.mm;
    sc_tensor *w = bo_leaf_weight(e, &p->w, p->K, p->N, 1, 1, BO_CONTIG);
    int64_t ne[2] = {p->K, p->M};
    sc_tensor *x = bo_leaf_uniform(e, SC_TYPE_F32, 2, ne, -1.0f, 1.0f);
    return sc_mul_mat(e->ctx, w, x);
}

/* ---- ATTENTION: one sequence (seq NULL) whose new_tok[0] tokens end at
 * position ctx[0]; q f32 [hd, n_heads, n_tokens], caches [hd, n_kv, block,
 * n_blocks] with the sequence's blocks shuffled among one spare */
static sc_tensor *build_perf_attn(bo_env *e, const bo_case *c) {
    const bo_p_paged *p = &c->p.pg;
    int64_t n_tok = p->new_tok[0], mb = (p->ctx[0] + p->block - 1) / p->block, n_blocks = mb + 1;
    int32_t *pool = malloc((size_t)n_blocks * sizeof *pool);
    int32_t *pos = malloc((size_t)n_tok * sizeof *pos);
    if (!pool || !pos) {
        free(pool);
        free(pos);
        e->err = SC_ENOMEM;
        return NULL;
    }
    for (int64_t i = 0; i < n_blocks; i++) pool[i] = (int32_t)i;
    bo_shuffle_i32(e, pool, n_blocks);
    for (int64_t t = 0; t < n_tok; t++) pos[t] = (int32_t)(p->ctx[0] - n_tok + t);
    int64_t bt_ne[2] = {mb, 1};
    sc_tensor *bt = bo_leaf_i32(e, 2, bt_ne, pool);
    sc_tensor *tpos = bo_leaf_i32(e, 1, &n_tok, pos);
    free(pool);
    free(pos);
    int64_t qne[3] = {p->hd, p->n_heads, n_tok};
    sc_tensor *q = bo_leaf_uniform(e, SC_TYPE_F32, 3, qne, -2.0f, 2.0f);
    int64_t cne[4] = {p->hd, p->n_kv, p->block, n_blocks};
    sc_tensor *k = bo_leaf_uniform(e, (sc_type)p->cache, 4, cne, -1.0f, 1.0f);
    sc_tensor *v = bo_leaf_uniform(e, (sc_type)p->cache, 4, cne, -1.0f, 1.0f);
    return sc_attention(e->ctx, q, k, v, bt, tpos, NULL, 1.0f / sqrtf((float)p->hd));
}

static bo_case *add_perf(bo_list *l, int32_t op, bo_build_fn build, double max_err) {
    bo_case *c = bo_list_add(l, op, build, max_err);
    if (c) c->perf_only = true;
    return c;
}

void bo_cases_perf(bo_list *l) {
    const bo_wtype wts[] = {bo_qg(4, 128, false, false), bo_dense(SC_TYPE_F16)};
    const double bounds[] = {5e-5, 1e-5}; /* cases_matmul.c's */
    char wn[32];

    static const int64_t KN[][2] = {{5120, 5120}, {5120, 1024}, {5120, 17408}, {17408, 5120}, {2048, 151936}};
    static const int64_t Ms[] = {1, 2, 4, 8, 512};
    for (size_t t = 0; t < 2; t++) {
        for (size_t i = 0; i < sizeof KN / sizeof KN[0]; i++) {
            for (size_t m = 0; m < sizeof Ms / sizeof Ms[0]; m++) {
                bo_case *c = add_perf(l, SC_OP_MUL_MAT, build_perf_mm, bounds[t]);
                if (!c) return;
                c->p.mm = (bo_p_mm){wts[t], KN[i][0], KN[i][1], Ms[m], 1, 1, 1, 1};
                snprintf(c->name, sizeof c->name, "perf_mm(type_w=%s,K=%lld,N=%lld,M=%lld)",
                         bo_wtype_name(&wts[t], wn, sizeof wn), (long long)KN[i][0], (long long)KN[i][1],
                         (long long)Ms[m]);
            }
        }
    }

    /* K, N, X: Qwen3-30B-A3B's gate/up and down experts */
    static const int64_t moe[][3] = {{2048, 768, 1}, {768, 2048, 8}};
    static const int64_t Ts[] = {1, 512};
    for (size_t t = 0; t < 2; t++) {
        for (size_t i = 0; i < 2; i++) {
            for (size_t j = 0; j < 2; j++) {
                bo_case *c = add_perf(l, SC_OP_MUL_MAT_ID, bo_build_mul_mat_id, bounds[t]);
                if (!c) return;
                c->p.mmid = (bo_p_mmid){wts[t], moe[i][0], moe[i][1], 128, 8, moe[i][2], Ts[j]};
                snprintf(c->name, sizeof c->name, "perf_mmid(type_w=%s,K=%lld,N=%lld,E=128,n_used=8,X=%lld,T=%lld)",
                         bo_wtype_name(&wts[t], wn, sizeof wn), (long long)moe[i][0], (long long)moe[i][1],
                         (long long)moe[i][2], (long long)Ts[j]);
            }
        }
    }

    /* Qwen3-Next-80B's recurrent ops: decode of 1 and 4 sequences, a prompt */
    static const struct { int n; int32_t pos; int64_t len; } rb[] = {{1, 100, 1}, {4, 100, 1}, {1, 0, 512}};
    for (size_t i = 0; i < sizeof rb / sizeof rb[0]; i++) {
        bo_p_recur rp = {.Cg = 512, .G = 16, .Cz = 256, .Kc = 4, .dk = 128, .dv = 128, .nk = 16, .nv = 32,
                         .eps = 1e-6f, .n_slots = rb[i].n, .n_runs = rb[i].n};
        for (int s = 0; s < rb[i].n; s++) {
            rp.slot[s] = s;
            rp.pos[s] = rb[i].pos + 7 * s;
            rp.len[s] = rb[i].len;
        }
        bo_case *c = add_perf(l, SC_OP_SSM_CONV, bo_build_ssm_conv, 1e-7);
        if (!c) return;
        c->written_err = BO_EXACT;
        c->p.rec = rp;
        snprintf(c->name, sizeof c->name, "perf_ssm_conv(Cg=512,G=16,Kc=4,x=proj,seqs=%d,pos=%d,T=%lld)", rb[i].n,
                 (int)rb[i].pos, (long long)(rb[i].n * rb[i].len));
        if (!(c = add_perf(l, SC_OP_GATED_DELTA_NET, bo_build_gated_delta_net, 1e-7))) return;
        c->written_err = 1e-6;
        c->p.rec = rp;
        snprintf(c->name, sizeof c->name, "perf_gdn(dk=128,dv=128,nk=16,nv=32,seqs=%d,pos=%d,T=%lld)", rb[i].n,
                 (int)rb[i].pos, (long long)(rb[i].n * rb[i].len));
    }

    /* heads, kv heads; ctx, new tokens */
    static const int64_t heads[][2] = {{64, 8}, {32, 4}};
    static const int64_t steps[][2] = {{4096, 1}, {512, 512}};
    for (size_t h = 0; h < 2; h++) {
        for (size_t s = 0; s < 2; s++) {
            bo_case *c = add_perf(l, SC_OP_ATTENTION, build_perf_attn, 5e-4);
            if (!c) return;
            c->p.pg = (bo_p_paged){.hd = 128, .n_kv = heads[h][1], .n_heads = heads[h][0], .block = 16,
                                   .cache = SC_TYPE_F16, .n_seqs = 1, .ctx = {steps[s][0]},
                                   .new_tok = {steps[s][1]}};
            snprintf(c->name, sizeof c->name, "perf_attn(hd=128,heads=%lld,kv_heads=%lld,block=16,kv=f16,ctx=%lld,new=%lld)",
                     (long long)heads[h][0], (long long)heads[h][1], (long long)steps[s][0],
                     (long long)steps[s][1]);
        }
    }
}
