// backends/vulkan/shaders/kv_slot.glsl - where token t of a KV_WRITE goes in
// the paged cache (docs/ops.md, the reference's sc__cpu_kv_block), for
// kv_write.comp and fuse_norm_rope.comp. Include after common.glsl and
// select_fp.glsl.
//
//   bt  i32 [MB, NSEQ]   block_table (bt_nb1: bytes per sequence)
//   pos, seq i32 [T]     seq == 0: every token in sequence 0
//
// Token t (sequence s = seq[t], position p = pos[t]) goes to block
// bt[p / BS, s], row p % BS. Returns false (a range error: the caller flags
// it once and skips the token) when s, p / BS or the block id is out of
// range; otherwise *slot = p % BS and *blk = the block id.
bool kv_slot(uint64_t bt, uint bt_nb1, uint64_t pos, uint64_t seq, uint t, uint BS, uint NB, uint MB, uint NSEQ,
             out uint slot, out uint blk) {
    const int s = seq != 0ul ? I32Buf(seq).v[t] : 0;
    const int p = I32Buf(pos).v[t];
    slot = 0u;
    blk = 0u;
    if (s < 0 || uint(s) >= NSEQ || p < 0 || uint(p) / BS >= MB) return false;
    const int b = I32Buf(bt + uint64_t(uint(s)) * bt_nb1).v[uint(p) / BS];
    if (b < 0 || uint(b) >= NB) return false;
    slot = uint(p) % BS;
    blk = uint(b);
    return true;
}

// The f32 value with bits x stored into element d of a cache row of type KT
// (0 f32, 1 f16, 2 bf16: sc_type numbering), rounded exactly as
// sc_f32_to_f16 / sc_f32_to_bf16 do (select_fp.glsl: integer arithmetic, so
// no device's denormal flushing or packHalf2x16 rounding can show). The f32
// cache takes the bits as they are.
void kv_store(uint KT_, uint64_t row, uint d, uint x) {
    if (KT_ == 0u) {
        U32Buf(row).v[d] = x;
    } else if (KT_ == 1u) {
        U16Buf(row).v[d] = uint16_t(fp_f32_to_f16(x));
    } else {
        U16Buf(row).v[d] = uint16_t(fp_f32_to_bf16(x));
    }
}
