/*
 * strixcore/model_synth.h - synthetic models with group-quantized weights,
 * for benchmarks and tests of the quantized kernels without a checkpoint.
 */
#ifndef STRIXCORE_MODEL_SYNTH_H
#define STRIXCORE_MODEL_SYNTH_H

#include "strixcore/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Like sc_model_synthetic, with the decoder's Linear layers (attention and
 * MLP projections, experts) stored as SC_TYPE_QG the way a quantized
 * checkpoint lays them out; embeddings, lm_head, norms and the MoE router
 * stay dense (bf16 / f32), as in real GPTQ/AWQ checkpoints. weights:
 *   "gptq-int4"  4-bit, group 128, symmetric (zero point 8)
 *   "gptq-int8"  8-bit, group 128, symmetric (zero point 128)
 *   "awq-int4"   4-bit, group 128, asymmetric (random zero points)
 *   "ct-w4a16"   4-bit, group 128, symmetric, bf16-rounded scales and
 *                dequantised weights (compressed-tensors)
 *   NULL or ""   dense: the same as sc_model_synthetic
 * opts->weight_type is ignored for quantized weights (dense parts are bf16).
 * SC_EINVAL for an unknown weights name. */
SC_API int sc_model_synthetic_quant(const char *name, const char *weights, const sc_model_opts *opts,
                                    sc_model_t **out, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
