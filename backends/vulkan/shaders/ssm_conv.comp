#version 450
// backends/vulkan/shaders/ssm_conv.comp - SSM_CONV: the causal depthwise
// convolution + silu of a Gated DeltaNet layer, state updated in place
// (docs/ops.md, backends/cpu/ref_recurrent.c sc__cpu_ref_ssm_conv).
//
//   x     f32 [Cg, G, T]      rows contiguous; x_nb1, x_nb2 in elements; channel c = g*Cg + i
//   w     f32 [KC, C]         contiguous: w[c][j]
//   state f32 [C, KC-1, NS]   contiguous: state[s][j][c], the inputs of the KC-1 positions before
//                             the slot's next one (oldest first)
//   seq, pos i32 [T]
//   y     f32 [C, T]          contiguous
//
// One invocation per (channel c, token t): x over channels, workgroup y over
// tokens (t_base + y). Only the invocations whose token starts a run (t == 0
// or seq[t-1] != seq[t]) work: they walk the run's tokens in order with the
// KC-1 previous inputs in registers (zeros when the run starts at position
// 0), write silu(conv) per token, and store the last KC-1 inputs back into
// the slot. Runs are of distinct slots (the op's contract), so invocations
// never share state. Adjacent invocations touch adjacent channels of x, y and
// the state: every access is coalesced.
//
// Range errors (seq outside [0, NS), pos < 0) set the error flag; a run of an
// out-of-range slot is skipped whole.
#include "common.glsl"

layout(constant_id = 3) const uint KC = 4; // kernel size, 2..16

layout(push_constant, std430) uniform PC {
    uint64_t x, w, state, seq, pos, y, err;
    uint x_nb1, x_nb2;  // elements
    uint Cg, G, T, NS;  // NS: slots in the state
    uint t_base;
} pc;

float silu(float v) { return v / (1.0 + exp(-v)); }

void main() {
    const uint C = pc.Cg * pc.G;
    const uint c = gl_GlobalInvocationID.x;
    const uint t0 = pc.t_base + gl_WorkGroupID.y;
    if (c >= C || t0 >= pc.T) return;
    I32Buf SEQ = I32Buf(pc.seq);
    I32Buf POS = I32Buf(pc.pos);
    const int s = SEQ.v[t0];
    if (t0 > 0 && SEQ.v[t0 - 1] == s) return; // not a run's first token
    if (s < 0 || uint(s) >= pc.NS) {
        if (c == 0) atomicOr(ErrBuf(pc.err).flag, ERR_RANGE);
        return;
    }
    const bool fresh = POS.v[t0] == 0;

    const uint g = c / pc.Cg, i = c % pc.Cg;
    F32Buf W = F32Buf(pc.w + 4ul * uint64_t(c) * KC);
    F32Buf S = F32Buf(pc.state + 4ul * uint64_t(uint(s)) * (KC - 1) * C);
    float wk[KC];
    for (uint j = 0; j < KC; j++) wk[j] = W.v[j];
    float win[KC - 1]; // win[j]: the input KC-1-j positions back
    for (uint j = 0; j < KC - 1; j++) win[j] = fresh ? 0.0 : S.v[j * C + c];

    // hot loop: the run's tokens in order
    uint t = t0;
    for (; t < pc.T && SEQ.v[t] == s; t++) {
        if (POS.v[t] < 0 && c == 0) atomicOr(ErrBuf(pc.err).flag, ERR_RANGE);
        const float xv = F32Buf(pc.x + 4ul * (uint64_t(t) * pc.x_nb2 + uint64_t(g) * pc.x_nb1)).v[i];
        float acc = 0.0;
        for (uint j = 0; j < KC - 1; j++) acc += wk[j] * win[j]; // the reference's order
        acc += wk[KC - 1] * xv;
        for (uint j = 0; j + 1 < KC - 1; j++) win[j] = win[j + 1];
        win[KC - 2] = xv;
        F32Buf(pc.y + 4ul * uint64_t(t) * C).v[c] = silu(acc);
    }
    for (uint j = 0; j < KC - 1; j++) S.v[j * C + c] = win[j];
}
