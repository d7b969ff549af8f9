/*
 * kernels/recurrent.hip - SSM_CONV and GATED_DELTA_NET, the recurrent ops of
 * Gated DeltaNet (Qwen3-Next linear attention) layers (the CPU reference is
 * backends/cpu/ref_recurrent.c; host side backends/hip/hip_op_recurrent.c;
 * arguments and shapes kernels/recurrent.h).
 *
 * Both keep a per-slot state and update it in place, token by token, within
 * a run (the tokens of one sequence, consecutive in the step). Runs are
 * independent; the grid's y walks the tokens and the block of a run's first
 * token walks the run, every other block returns at once. So a decode step
 * (one token per sequence) has a block row per sequence, and a prefill run of
 * T tokens is one block row that loops T times (the recurrence is sequential
 * in t; the parallelism is across channels / heads and columns of S).
 */
#include "sc_hip.h"
#include "recurrent.h"

/* unrolled loops keep the windows and rows of S in registers (g++ on EMU knows no #pragma unroll) */
#if defined(SC_HIP_EMU)
#define REC_UNROLL
#else
#define REC_UNROLL _Pragma("unroll")
#endif

/* Does token t start a run? (t == 0 or its sequence differs from t-1's) */
static __device__ __forceinline__ bool rec_run_start(const int32_t *seq, int t) {
    return t == 0 || seq[t - 1] != seq[t];
}

/* ---- SSM_CONV -----------------------------------------------------------------------------
 * Thread = channel c of one run. The window win[0 .. KM-2] holds the previous
 * inputs right-aligned: the Kc-1 live ones at off = KM-Kc .. KM-2 (win[KM-2]
 * the newest), the slots below off are never read. Indices are compile-time
 * (loops fully unrolled), so the window and the weights stay in registers;
 * the runtime Kc only masks the low slots. Per token:
 *   acc = sum_{j < Kc-1} w[c][j] * win[off + j] + w[c][Kc-1] * x_t
 * in the reference's order, y = silu(acc) as the reference writes it, then
 * the window shifts by one. The state is read once at the run's start (zero
 * for a fresh run) and written once at its end. Loads and stores are
 * coalesced across channels (state[s][j][c], x rows, y rows). */
template <int KM> static __device__ __forceinline__ void ssm_conv(const sc_ssm_conv_args &p) {
    const int c = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    const int Kc = p.Kc, off = KM - Kc, C = p.C;
    const bool live = c < C; /* lanes past C only take part in nothing; no syncs here */
    const int g = live ? c / p.Cg : 0, i = live ? c - g * p.Cg : 0;

    float wt[KM]; /* wt[j] = w[c][j - off] for j >= off; wt[KM-1] = w[c][Kc-1] */
REC_UNROLL
    for (int j = 0; j < KM; j++) wt[j] = live && j >= off ? p.w[(int64_t)c * Kc + (j - off)] : 0.0f;

    for (int t0 = (int)blockIdx.y; t0 < p.T; t0 += (int)gridDim.y) {
        if (!rec_run_start(p.seq, t0)) continue;
        const int32_t s = p.seq[t0];
        if (s < 0 || s >= p.n_slots) { /* the reference's SC_ERANGE: the run is skipped */
            if (c == 0) sc_report(p.err, SC_HIP_ERR_RANGE);
            continue;
        }
        if (!live) continue;
        float *st = p.state + (int64_t)s * (Kc - 1) * C + c; /* state[s][j][c] at st[j * C] */
        const bool fresh = p.pos[t0] == 0;
        float win[KM - 1];
REC_UNROLL
        for (int j = 0; j < KM - 1; j++) win[j] = !fresh && j >= off ? st[(int64_t)(j - off) * C] : 0.0f;

        int t = t0;
        do {
            if (c == 0 && p.pos[t] < 0) sc_report(p.err, SC_HIP_ERR_RANGE); /* reported, no address depends on it */
            const float xt = *(const float *)((const char *)p.x + (int64_t)t * p.x_nb2 + (int64_t)g * p.x_nb1 +
                                              (int64_t)i * (int64_t)sizeof(float));
            float acc = 0.0f;
REC_UNROLL
            for (int j = 0; j < KM - 1; j++)
                if (j >= off) acc += wt[j] * win[j];
            acc += wt[KM - 1] * xt;
REC_UNROLL
            for (int j = 0; j + 1 < KM - 1; j++) win[j] = win[j + 1];
            win[KM - 2] = xt;
            float *y = (float *)((char *)p.y + (int64_t)t * p.y_nb1);
            y[c] = acc / (1.0f + expf(-acc));
            t++;
        } while (t < p.T && p.seq[t] == s);

REC_UNROLL
        for (int j = 0; j < KM - 1; j++)
            if (j >= off) st[(int64_t)(j - off) * C] = win[j];
    }
}

SC_KERNEL(k_ssm_conv_k4, sc_ssm_conv_args, SC_CONV_THREADS) { ssm_conv<4>(p); }
SC_KERNEL(k_ssm_conv_k16, sc_ssm_conv_args, SC_CONV_THREADS) { ssm_conv<16>(p); }

/* ---- GATED_DELTA_NET ----------------------------------------------------------------------
 * Block = (value head h, chunk of 32 columns of S, run); lane = column j,
 * warp = part: rows i = 32 * part + k (k < SC_GDN_RPT = 32) of column j in
 * registers (Sr[k]); rows at or past dk (the last part when dk % 32 != 0)
 * hold 0 and meet zeros in the padded q, k, so the token loop needs no
 * per-row test (compile-time indices, nothing kept in masks). Per token, with
 * raw q_g, k_g of the head's key group:
 *   qs = 1 / sqrt(|q_g|^2 + eps) / sqrt(dk),  ks = 1 / sqrt(|k_g|^2 + eps)
 *   q = q_g * qs, k = k_g * ks, beta = sigmoid(b), decay as the header says
 *   S = decay * S;  kv = S^T k;  delta = (v - kv) * beta;  S += k delta^T;  o = S^T q
 * The scales factor out of the sums, and o can be had from the old S:
 *   kv = decay * ks * sum_i S_i k_g,i
 *   o  = decay * qs * sum_i S_i q_g,i + delta * (k . q)
 * so one pass over the rows gives both partial sums (one exchange between
 * the parts per token instead of two), and the update is S_i = decay * S_i +
 * k_g,i * (ks * delta). Mathematically the reference's; rounding differs in
 * the last bits.
 *
 * Shared memory, double-buffered by token parity so that one barrier after
 * the loads and one after the partial sums suffice (a buffer is rewritten
 * two tokens later, after both barriers of the token between):
 *   sq, sk   the raw q_g, k_g, zero past dk (32 * parts entries)
 *   snorm    per warp: |q_g|^2, |k_g|^2, q_g . k_g partials
 *   sred     per part and lane: the two partial sums
 *   sgate    beta, decay (thread 0) */
/* A thread's rows of its column: n of them (0..32) from column pointer S (row
 * stride ld floats), the rest 0. The full case (every part when dk % 32 == 0)
 * is a branch of its own, so no per-row condition is computed there, and
 * the partial case's conditions are made here and die here (kept across the
 * token loop they would be 31 live masks). */
static __device__ __forceinline__ void gdn_rows_load(float (&Sr)[SC_GDN_RPT], const float *S, int ld, int n) {
    if (n == SC_GDN_RPT) {
        REC_UNROLL
        for (int k = 0; k < SC_GDN_RPT; k++) Sr[k] = S[k * ld];
    } else {
        REC_UNROLL
        for (int k = 0; k < SC_GDN_RPT; k++) Sr[k] = k < n ? S[k * ld] : 0.0f;
    }
}

static __device__ __forceinline__ void gdn_rows_store(const float (&Sr)[SC_GDN_RPT], float *S, int ld, int n) {
    if (n == SC_GDN_RPT) {
        REC_UNROLL
        for (int k = 0; k < SC_GDN_RPT; k++) S[k * ld] = Sr[k];
    } else {
        REC_UNROLL
        for (int k = 0; k < SC_GDN_RPT; k++)
            if (k < n) S[k * ld] = Sr[k];
    }
}

static __device__ __forceinline__ float gdn_softplus(float v) { return v > 20.0f ? v : log1pf(expf(v)); }

SC_KERNEL(k_gated_delta_net, sc_gdn_args, SC_GDN_THREADS) {
    __shared__ float sq[2][SC_GDN_MAX_DK], sk[2][SC_GDN_MAX_DK];
    __shared__ float snorm[2][SC_GDN_MAX_PARTS][3];
    __shared__ float sred[2][SC_GDN_MAX_PARTS][SC_GDN_COLS][2];
    __shared__ float sgate[2][2];

    const int tid = (int)threadIdx.x, lane = (int)sc_lane(), part = tid / SC_GDN_COLS;
    const int h = (int)blockIdx.x / p.chunks, chunk = (int)blockIdx.x - h * p.chunks;
    const int j = chunk * SC_GDN_COLS + lane; /* this thread's column */
    const int dk = p.dk, dv = p.dv, nv = p.nv, r = p.r, parts = p.parts;
    const bool col_ok = j < dv;
    const int grp = 2 * dk + r * dv, g = h / r, hr = h - g * r;
    const int i0 = part * SC_GDN_RPT; /* this thread's first row */
    const int nrow = min(dk - i0, SC_GDN_RPT); /* its rows that exist: 1..32 */
    const float a_log = p.ad[h], dt_bias = p.ad[nv + h];
    const float inv_sqrt_dk = 1.0f / sqrtf((float)dk);

    for (int t0 = (int)blockIdx.y; t0 < p.T; t0 += (int)gridDim.y) {
        if (!rec_run_start(p.seq, t0)) continue;
        const int32_t s = p.seq[t0];
        if (s < 0 || s >= p.n_slots) { /* the reference's SC_ERANGE: the run is skipped */
            if (blockIdx.x == 0 && tid == 0) sc_report(p.err, SC_HIP_ERR_RANGE);
            continue;
        }
        /* S[s][h][i][j] at S[i * dv] */
        float *S = p.state + ((int64_t)s * nv + h) * (int64_t)dk * dv + j;
        const bool fresh = p.pos[t0] == 0;
        /* the row stride through a shuffle: opaque to the compiler, so the row
         * offsets are made here, per run, and not kept (spilled) across runs */
        const int ld = sc_shfl(dv, 0);
        float Sr[SC_GDN_RPT];
        gdn_rows_load(Sr, S + (int64_t)i0 * ld, ld, !fresh && col_ok ? nrow : 0);

        int t = t0, b = 0;
        do {
            if (tid == 0 && blockIdx.x == 0 && p.pos[t] < 0) sc_report(p.err, SC_HIP_ERR_RANGE);
            const float *row = (const float *)((const char *)p.qkv + (int64_t)t * p.qkv_nb1) + (int64_t)g * grp;
            /* raw q_g, k_g into shared memory (zero past dk), their norms and dot product per warp */
            const float qv = tid < dk ? row[tid] : 0.0f, kv = tid < dk ? row[dk + tid] : 0.0f;
            sq[b][tid] = qv;
            sk[b][tid] = kv;
            const float qq = sc_warp_sum(qv * qv), kk = sc_warp_sum(kv * kv), qk = sc_warp_sum(qv * kv);
            if (lane == 0) {
                snorm[b][part][0] = qq;
                snorm[b][part][1] = kk;
                snorm[b][part][2] = qk;
            }
            if (tid == 0) {
                const float *bar = (const float *)((const char *)p.ba + (int64_t)t * p.ba_nb1) + (int64_t)g * 2 * r;
                const float bb = bar[hr], aa = bar[r + hr];
                sgate[b][0] = 1.0f / (1.0f + expf(-bb));
                sgate[b][1] = expf(-expf(a_log) * gdn_softplus(aa + dt_bias));
            }
            const float v = col_ok ? row[2 * dk + hr * dv + j] : 0.0f;
            __syncthreads();

            /* both partial sums over this thread's rows (raw q, k) */
            float pk = 0.0f, pq = 0.0f;
            REC_UNROLL
            for (int k = 0; k < SC_GDN_RPT; k++) {
                pk += Sr[k] * sk[b][i0 + k];
                pq += Sr[k] * sq[b][i0 + k];
            }
            sred[b][part][lane][0] = pk;
            sred[b][part][lane][1] = pq;
            float nq = 0.0f, nk = 0.0f, nqk = 0.0f;
            for (int w = 0; w < parts; w++) nq += snorm[b][w][0], nk += snorm[b][w][1], nqk += snorm[b][w][2];
            const float qs = 1.0f / sqrtf(nq + p.eps) * inv_sqrt_dk, ks = 1.0f / sqrtf(nk + p.eps);
            const float beta = sgate[b][0], decay = sgate[b][1];
            __syncthreads();

            /* every part forms the column's sums (same order: same values) */
            float sk_sum = 0.0f, sq_sum = 0.0f;
            for (int w = 0; w < parts; w++) sk_sum += sred[b][w][lane][0], sq_sum += sred[b][w][lane][1];
            const float delta = (v - decay * ks * sk_sum) * beta;
            const float kd = ks * delta;
            REC_UNROLL
            for (int k = 0; k < SC_GDN_RPT; k++) Sr[k] = decay * Sr[k] + sk[b][i0 + k] * kd;
            if (part == 0 && col_ok) {
                float *o = (float *)((char *)p.o + (int64_t)t * p.o_nb2 + (int64_t)h * p.o_nb1);
                o[j] = decay * qs * sq_sum + delta * (nqk * qs * ks);
            }
            b ^= 1;
            t++;
        } while (t < p.T && p.seq[t] == s);

        /* again through a shuffle: the offsets are made again here instead of
         * living across the token loop */
        const int ld2 = sc_shfl(dv, 0);
        gdn_rows_store(Sr, S + (int64_t)i0 * ld2, ld2, col_ok ? nrow : 0);
        /* the next run of this block (grid y striding) reuses the buffers: all
         * threads past the last token's reads before anyone writes again */
        __syncthreads();
    }
}
