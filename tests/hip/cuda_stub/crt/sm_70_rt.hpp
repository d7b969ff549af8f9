/* empty: tests/hip/cuda_stub/cuda_runtime.h says why */
