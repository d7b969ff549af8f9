/*
 * backends/vulkan/tools/spv_coopmat_khr.h - rewrite a SPIR-V module that uses
 * SPV_NV_cooperative_matrix into one that uses SPV_KHR_cooperative_matrix.
 *
 * Why: Debian 12's glslc (glslang 11.13) compiles GL_NV_cooperative_matrix but
 * not GL_KHR_cooperative_matrix, and RADV (the target's driver) implements
 * only the KHR extension. The two are the same model with different encodings
 * (opcode numbers from the SPIR-V registry, spirv.core.grammar.json):
 *
 *   NV (5357 capability)                         KHR (6022 capability)
 *   5358 OpTypeCooperativeMatrixNV               4456 OpTypeCooperativeMatrixKHR
 *        Result Component Scope Rows Cols             ... Rows Cols Use(<id> of an i32 constant)
 *   5359 OpCooperativeMatrixLoadNV               4457 OpCooperativeMatrixLoadKHR
 *        RT R Pointer Stride ColumnMajor(bool) [MA]   RT R Pointer Layout(<id>) Stride [MA]
 *   5360 OpCooperativeMatrixStoreNV              4458 OpCooperativeMatrixStoreKHR
 *        Pointer Object Stride ColumnMajor [MA]       Pointer Object Layout Stride [MA]
 *   5361 OpCooperativeMatrixMulAddNV             4459 OpCooperativeMatrixMulAddKHR
 *        RT R A B C                                   RT R A B C [signedness flags]
 *   5362 OpCooperativeMatrixLengthNV             4460 OpCooperativeMatrixLengthKHR
 *
 * KHR types carry their use (MatrixA 0, MatrixB 1, Accumulator 2); NV types do
 * not, so the use of each NV type is inferred from the MulAdds that read it.
 * A type that is never read by a MulAdd, or is read both as A and B (glslang
 * gives two matrices of one shape one type), is rejected: write the shader so
 * that A and B differ (e.g. spec-constant dimensions of distinct ids).
 * ColumnMajor must be OpConstantTrue/False (KHR wants a constant layout).
 * Anything else cooperative (SPV_NV_cooperative_matrix2, KHR already present)
 * is rejected. Every rejection is an error with a message, never a guess.
 */
#ifndef STRIXCORE_SPV_COOPMAT_KHR_H
#define STRIXCORE_SPV_COOPMAT_KHR_H

#include <stddef.h>
#include <stdint.h>

/* Rewrite in[0..n_in) (words). On success returns 0 and sets *out (malloc'd,
 * the caller frees) and *n_out; on failure returns -1, *out is NULL and err
 * (err_size bytes) holds the reason. */
int spv_coopmat_nv_to_khr(const uint32_t *in, size_t n_in, uint32_t **out, size_t *n_out, char *err,
                          size_t err_size);

/* SPIR-V numbers the rewriter and its test use. */
enum {
    SPV_MAGIC = 0x07230203u,
    SPV_OP_NAME = 5, SPV_OP_MEMBER_NAME = 6, SPV_OP_EXTENSION = 10, SPV_OP_TYPE_INT = 21, SPV_OP_TYPE_FLOAT = 22,
    SPV_OP_CONSTANT_TRUE = 41, SPV_OP_CONSTANT_FALSE = 42, SPV_OP_CONSTANT = 43, SPV_OP_SPEC_CONSTANT_OP = 52,
    SPV_OP_DECORATE = 71, SPV_OP_MEMBER_DECORATE = 72, SPV_OP_CAPABILITY = 17,
    SPV_OP_TYPE_COOPMAT_KHR = 4456, SPV_OP_COOPMAT_LOAD_KHR = 4457, SPV_OP_COOPMAT_STORE_KHR = 4458,
    SPV_OP_COOPMAT_MULADD_KHR = 4459, SPV_OP_COOPMAT_LENGTH_KHR = 4460,
    SPV_OP_TYPE_COOPMAT_NV = 5358, SPV_OP_COOPMAT_LOAD_NV = 5359, SPV_OP_COOPMAT_STORE_NV = 5360,
    SPV_OP_COOPMAT_MULADD_NV = 5361, SPV_OP_COOPMAT_LENGTH_NV = 5362,
    SPV_CAP_COOPMAT_NV = 5357, SPV_CAP_COOPMAT_KHR = 6022,
    SPV_USE_A = 0, SPV_USE_B = 1, SPV_USE_ACC = 2,
    SPV_LAYOUT_ROW_MAJOR = 0, SPV_LAYOUT_COLUMN_MAJOR = 1,
};

#endif
