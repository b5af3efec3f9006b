/* scribe's native kernels for one-token CPU decode steps (built and loaded by scribe/engine/native.py).

   A decode step multiplies one row by every weight matrix, so its speed is how fast the matrices stream from memory.
   The products here read weights re-stored in blocks of 16 output rows with the rows in the vector lanes: a block
   holds, for each input (float32) or group of 4 inputs (int8), the 16 rows' weights side by side (64 bytes), so a
   block is one strictly sequential read, each input is broadcast across the lanes, and the 16 rows' sums come out in
   one vector without a horizontal reduction. Threads: OpenMP, the runtime PyTorch loaded (the library is opened after
   torch, and the dynamic linker binds it to the libgomp already in the process), so scribe's products and PyTorch's
   own operations share one pool of threads. */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__F16C__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#define SCRIBE_INT8 1
#else
#define SCRIBE_INT8 0
#endif

#define BLOCK 16 /* output rows in a packed block: the lanes of a 512-bit vector of floats */
#define GROUP 4  /* int8 inputs of one row side by side in a block (what one VNNI lane sums) */
#define SPLIT 4  /* independent sums per block, so the products' latencies overlap */
#define TILE 4   /* rows of a float32 product that share each read of a block */
#define CHUNK 64 /* cached positions in one piece of an attention's work */
#define MAX_GROUP 16 /* query heads that attend together to one read of their key/value head */
#define MAX_HEAD_DIM 256 /* the largest head the attention takes (native.MAX_HEAD_DIM) */
#define TOP_MAX 256 /* the most positions scribe_top finds (native.TOP_MAX) */
#define TOP_PASSES 4096 /* values past the first k that may pass scribe_top's bar before it gives up */
#define AHEAD 4096 /* bytes of weights asked for ahead of the product, as the stream of blocks goes */

/* The key/value cache holds IEEE half-precision floats (as llama.cpp's does): a long context's step reads half the
   bytes; each row is widened to float once as the attention reads it (`widen`) and each value rounded to nearest once
   when written (`narrow`). x86 converts with F16C's instructions, which any compiler of the last decade has; elsewhere
   the compiler's _Float16 (GCC 12 or Clang 15 on x86 without F16C, older ones on Arm); with neither the build stops
   and scribe decodes on PyTorch. */
#if defined(__F16C__)
typedef uint16_t cached;
static inline cached narrow(float x) { return _cvtss_sh(x, 0); }
static inline float widen_one(cached h) { return _cvtsh_ss(h); }
#elif defined(__FLT16_MAX__)
typedef _Float16 cached;
static inline cached narrow(float x) { return (cached)x; }
static inline float widen_one(cached h) { return (float)h; }
#else
#error "no half-precision floats on this target: the key/value cache needs F16C or _Float16"
#endif

/* The n half-precision floats at `in` as floats at `out`: 16 or 8 to an instruction where the CPU converts them
   (AVX-512, F16C; GCC 12 turned a plain loop of _Float16 casts into one scalar conversion at a time, which made a
   SmolLM2-135M-shaped step over 4,096 positions 2.6 times slower; widened once a row, 7-9 % faster than with a
   float32 cache). */
static inline void widen(const cached *in, float *out, long n) {
  long i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(in + i))));
#elif defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + i))));
#endif
  for (; i < n; i++) out[i] = widen_one(in[i]);
}

/* Ask for the line at p before it is read, as non-temporal data (x86's prefetchnta): weights stream through once a
   step, and lines fetched so evict less of what stays in the caches between steps (the interpreter, the sampler's
   data). With it, GPT-2-124M streams on a 2-core AMD EPYC (Zen 4), two builds interleaved in one process, ran 3.5 and
   8.5 % faster in int8 (-3 % in a third run) and 5 % faster in float32. */
static inline void stream_ahead(const void *p) { __builtin_prefetch(p, 0, 0); }

/* 1 where this build has the int8 product (AVX-512 with VNNI), else 0. */
int scribe_int8_supported(void) { return SCRIBE_INT8; }

/* One row's products with one block: SPLIT independent sums over the inputs, so their latencies overlap. */
static inline void float_block_one(const float *row, const float *block, long inputs, float *out) {
  float sums[SPLIT][BLOCK] = {{0}};
  long k = 0;
  for (; k + SPLIT <= inputs; k += SPLIT)
    for (int part = 0; part < SPLIT; part++) {
      const float *weights = block + (k + part) * BLOCK;
      stream_ahead((const char *)weights + AHEAD);
#pragma omp simd
      for (int lane = 0; lane < BLOCK; lane++) sums[part][lane] += row[k + part] * weights[lane];
    }
  for (; k < inputs; k++) {
#pragma omp simd
    for (int lane = 0; lane < BLOCK; lane++) sums[0][lane] += row[k] * block[k * BLOCK + lane];
  }
  for (int lane = 0; lane < BLOCK; lane++)
    out[lane] = (sums[0][lane] + sums[1][lane]) + (sums[2][lane] + sums[3][lane]);
}

/* `count` (2 to TILE) rows' products with one block, each weight read once for all of them: the rows' sums are the
   independent ones. */
static inline __attribute__((always_inline)) void float_block_rows(const float *x, long inputs, const float *block,
                                                                   int count, float out[][BLOCK]) {
  float sums[TILE][BLOCK] = {{0}};
  for (long k = 0; k < inputs; k++) {
    const float *weights = block + k * BLOCK;
    stream_ahead((const char *)weights + AHEAD);
    for (int m = 0; m < count; m++) {
      float value = x[m * inputs + k];
#pragma omp simd
      for (int lane = 0; lane < BLOCK; lane++) sums[m][lane] += value * weights[lane];
    }
  }
  for (int m = 0; m < count; m++)
    for (int lane = 0; lane < BLOCK; lane++) out[m][lane] = sums[m][lane];
}

/* y[m, n] = x[m, :] . w[n, :] + bias[n] for `rows` rows of x ([rows, inputs]) and a weight packed as
   [blocks, inputs, BLOCK] (outputs padded to whole blocks with zero rows); y is [rows, outputs]; bias may be NULL.
   Rows go through a block TILE at a time. */
void scribe_float_rows(const float *x, long rows, const float *packed, const float *bias, float *y, long outputs,
                       long inputs, int threads) {
  long blocks = (outputs + BLOCK - 1) / BLOCK;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (long b = 0; b < blocks; b++) {
    const float *block = packed + b * BLOCK * inputs;
    long first = b * BLOCK, count = outputs - first < BLOCK ? outputs - first : BLOCK;
    for (long m = 0; m < rows; m += TILE) {
      float sums[TILE][BLOCK];
      long tile = rows - m < TILE ? rows - m : TILE;
      switch (tile) { /* a constant count each, so each loop is unrolled for it */
        case 1: float_block_one(x + m * inputs, block, inputs, sums[0]); break;
        case 2: float_block_rows(x + m * inputs, inputs, block, 2, sums); break;
        case 3: float_block_rows(x + m * inputs, inputs, block, 3, sums); break;
        default: float_block_rows(x + m * inputs, inputs, block, TILE, sums); break;
      }
      for (long t = 0; t < tile; t++)
        for (long r = 0; r < count; r++) y[(m + t) * outputs + first + r] = sums[t][r] + (bias ? bias[first + r] : 0.f);
    }
  }
}

#if SCRIBE_INT8
/* One row of activations as unsigned bytes with its own scale and zero point (x ~ scale * (q - zero), the range
   stretched to include 0), padded with the zero point to `padded` values. */
static void quantize_row(const float *x, long inputs, long padded, uint8_t *q, float *scale, int32_t *zero) {
  float low = 0.f, high = 0.f;
  for (long k = 0; k < inputs; k++) {
    low = x[k] < low ? x[k] : low;
    high = x[k] > high ? x[k] : high;
  }
  float step = (high - low) / 255.f;
  if (step <= 0.f) step = 1.f;
  float z = rintf(-low / step), inverse = 1.f / step;
  for (long k = 0; k < inputs; k++) {
    float value = rintf(x[k] * inverse) + z;
    q[k] = (uint8_t)(int)(value < 0.f ? 0.f : value > 255.f ? 255.f : value);
  }
  for (long k = inputs; k < padded; k++) q[k] = (uint8_t)(int)z;
  *scale = step;
  *zero = (int32_t)z;
}

/* The int8 products of one quantised row `q` with one block (see scribe_int8_rows), written to y[first...]. */
static inline void int8_block(const uint8_t *q, float scale, int32_t zero, const int8_t *block, long padded,
                              const float *weight_scales, const int32_t *weight_sums, const float *bias, float *y,
                              long first, long count) {
  __m512i sums[SPLIT];
  for (int part = 0; part < SPLIT; part++) sums[part] = _mm512_setzero_si512();
  for (long k = 0; k < padded; k += GROUP * SPLIT) {
    const int8_t *weights = block + k * BLOCK;
    for (int part = 0; part < SPLIT; part++) stream_ahead(weights + AHEAD + part * GROUP * BLOCK);
    for (int part = 0; part < SPLIT; part++)
      sums[part] = _mm512_dpbusd_epi32(sums[part], _mm512_set1_epi32(*(const int32_t *)(q + k + part * GROUP)),
                                       _mm512_load_si512(weights + part * GROUP * BLOCK));
  }
  __m512i total = _mm512_add_epi32(_mm512_add_epi32(sums[0], sums[1]), _mm512_add_epi32(sums[2], sums[3]));
  __mmask16 lanes = (__mmask16)((1u << count) - 1);
  total = _mm512_sub_epi32(total, _mm512_mullo_epi32(_mm512_set1_epi32(zero),
                                                     _mm512_maskz_loadu_epi32(lanes, weight_sums + first)));
  __m512 out = _mm512_mul_ps(_mm512_cvtepi32_ps(total),
                             _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, weight_scales + first), _mm512_set1_ps(scale)));
  if (bias) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(lanes, bias + first));
  _mm512_mask_storeu_ps(y + first, lanes, out);
}
#endif

/* y[m, n] = x[m, :] . w[n, :] + bias[n] with int8 weights (one scale per output row, `weight_sums` their int sums)
   packed as [blocks, padded / GROUP, BLOCK, GROUP] (inputs padded with zero columns to `padded`, a multiple of
   GROUP * SPLIT; outputs to whole blocks with zero rows), each row of x quantised to unsigned bytes on the fly;
   products summed exactly in int32. Returns 0, or -1 where this build has no int8 product or memory ran out. */
int scribe_int8_rows(const float *x, long rows, const int8_t *packed, const float *weight_scales,
                     const int32_t *weight_sums, const float *bias, float *y, long outputs, long inputs, long padded,
                     int threads) {
#if SCRIBE_INT8
  uint8_t *q = aligned_alloc(64, (size_t)(rows * padded + 63) / 64 * 64);
  float *scales = malloc(sizeof(float) * (size_t)rows);
  int32_t *zeros = malloc(sizeof(int32_t) * (size_t)rows);
  if (!q || !scales || !zeros) {
    free(q), free(scales), free(zeros);
    return -1;
  }
  if (rows == 1)
    quantize_row(x, inputs, padded, q, scales, zeros);
  else {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long m = 0; m < rows; m++) quantize_row(x + m * inputs, inputs, padded, q + m * padded, scales + m, zeros + m);
  }
  long blocks = (outputs + BLOCK - 1) / BLOCK;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (long b = 0; b < blocks; b++) {
    long first = b * BLOCK, count = outputs - first < BLOCK ? outputs - first : BLOCK;
    for (long m = 0; m < rows; m++)
      int8_block(q + m * padded, scales[m], zeros[m], packed + b * BLOCK * padded, padded, weight_scales,
                 weight_sums, bias, y + m * outputs, first, count);
  }
  free(q), free(scales), free(zeros);
  return 0;
#else
  (void)x, (void)rows, (void)packed, (void)weight_scales, (void)weight_sums, (void)bias, (void)y, (void)outputs;
  (void)inputs, (void)padded, (void)threads;
  return -1;
#endif
}

/* The share of one chunk of `count` cached positions in the attention of one group of `group` query heads (q,
   [group, dim]) that share the chunk's keys and values (k and v, [count, dim] each): for each head its scores' max,
   the sum of their exps and the exp-weighted sum of the values, written to p ([group, 2 + dim]). Each key and value
   row is read once for the whole group. Inlined with a constant `dim` where the caller gives one. */
static inline __attribute__((always_inline)) void attend_chunk(const float *q, const cached *k, const cached *v,
                                                               long count, long group, long dim, float scale,
                                                               float *p) {
  float scores[MAX_GROUP][CHUNK], sums[MAX_GROUP][MAX_HEAD_DIM], row[MAX_HEAD_DIM];
  for (long t = 0; t < count; t++) {
    widen(k + t * dim, row, dim);
    for (long h = 0; h < group; h++) {
      float s = 0.f;
#pragma omp simd reduction(+ : s)
      for (long d = 0; d < dim; d++) s += q[h * dim + d] * row[d];
      scores[h][t] = s * scale;
    }
  }
  for (long h = 0; h < group; h++) {
    float top = scores[h][0], total = 0.f;
    for (long t = 1; t < count; t++) top = scores[h][t] > top ? scores[h][t] : top;
#pragma omp simd reduction(+ : total)
    for (long t = 0; t < count; t++) {
      scores[h][t] = expf(scores[h][t] - top);
      total += scores[h][t];
    }
    p[h * (2 + dim)] = top, p[h * (2 + dim) + 1] = total;
    for (long d = 0; d < dim; d++) sums[h][d] = 0.f;
  }
  for (long t = 0; t < count; t++) {
    widen(v + t * dim, row, dim);
    for (long h = 0; h < group; h++) {
      float weight = scores[h][t];
#pragma omp simd
      for (long d = 0; d < dim; d++) sums[h][d] += weight * row[d];
    }
  }
  for (long h = 0; h < group; h++)
    for (long d = 0; d < dim; d++) p[h * (2 + dim) + 2 + d] = sums[h][d];
}

/* One position's attention for each of `rows` rows (length >= 1 positions, the new one included; dim at most
   MAX_HEAD_DIM). Row r's queries, new keys and new values are qkv[r] ([heads + 2 kv_heads, dim]: queries, keys,
   values); its cached keys lie at cache + r * kv_heads * capacity * dim, its values `rows` times that further on,
   each [kv_heads, capacity, dim]. The new keys and values are first written at position length - 1; then out[r, h]
   = softmax(scale * keys[g] . q[r, h]) . values[g] for each query head h, with key and value head g = h / (heads /
   kv_heads). out is [rows, heads, dim]. The positions go in chunks of CHUNK, each chunk's share computed apart for
   the query heads of a key/value head together (in parallel: rows x key/value heads x chunks of work) and the
   shares combined by their maxima. Measured on a 2-core AMD EPYC (Zen 4), the SmolLM2-135M shape's attention (30
   layers, 9 query and 3 key/value heads of 64) over 4,096 positions took 6.6-7.8 ms a token against 10.1-10.9 ms
   when each query head read its keys and values alone in one piece (11.0 against 15.2 ms on one thread). Returns 0,
   or -1 where memory ran out. */
static int attend_rows(const float *qkv, long rows, cached *cache, float *out, long length, long heads, long kv_heads,
                       long dim, long capacity, float scale, int threads) {
  long group = heads / kv_heads, width = (heads + 2 * kv_heads) * dim, head_cache = kv_heads * capacity * dim;
  for (long r = 0; r < rows; r++)
    for (long g = 0; g < kv_heads; g++)
      for (long d = 0; d < dim; d++) {
        long slot = r * head_cache + g * capacity * dim + (length - 1) * dim + d;
        cache[slot] = narrow(qkv[r * width + (heads + g) * dim + d]);
        cache[rows * head_cache + slot] = narrow(qkv[r * width + (heads + kv_heads + g) * dim + d]);
      }
  long chunks = (length + CHUNK - 1) / CHUNK, items = rows * kv_heads * chunks, share = group * (2 + dim);
  float *shares = malloc(sizeof(float) * (size_t)(items * share));
  if (!shares) return -1;
#pragma omp parallel for num_threads(items > 1 ? threads : 1) schedule(static)
  for (long i = 0; i < items; i++) {
    long r = i / (kv_heads * chunks), g = i / chunks % kv_heads, first = i % chunks * CHUNK;
    long count = length - first < CHUNK ? length - first : CHUNK;
    const cached *k = cache + r * head_cache + g * capacity * dim + first * dim, *v = k + rows * head_cache;
    for (long h = 0; h < group; h += MAX_GROUP) {
      const float *q = qkv + r * width + (g * group + h) * dim;
      long some = group - h < MAX_GROUP ? group - h : MAX_GROUP;
      if (dim == 64) /* most small models' head size: loops of a known length */
        attend_chunk(q, k, v, count, some, 64, scale, shares + i * share + h * (2 + dim));
      else
        attend_chunk(q, k, v, count, some, dim, scale, shares + i * share + h * (2 + dim));
    }
  }
  for (long r = 0; r < rows; r++)
    for (long h = 0; h < heads; h++) {
      const float *own = shares + (r * kv_heads + h / group) * chunks * share + h % group * (2 + dim);
      float top = own[0], total = 0.f, *o = out + (r * heads + h) * dim;
      for (long c = 1; c < chunks; c++) top = own[c * share] > top ? own[c * share] : top;
      for (long d = 0; d < dim; d++) o[d] = 0.f;
      for (long c = 0; c < chunks; c++) {
        float weight = expf(own[c * share] - top);
        total += weight * own[c * share + 1];
        for (long d = 0; d < dim; d++) o[d] += weight * own[c * share + 2 + d];
      }
      for (long d = 0; d < dim; d++) o[d] /= total;
    }
  free(shares);
  return 0;
}

/* x += y where y is given (the residual), then out = (x - mean) / sqrt(variance + eps) * weight + bias: a layer norm
   of one row of n floats, as torch's layer_norm computes it (the variance without Bessel's correction). */
static void add_layer_norm(float *x, const float *y, const float *weight, const float *bias, float eps, float *out,
                           long n) {
  float sum = 0.f;
  if (y) {
#pragma omp simd reduction(+ : sum)
    for (long i = 0; i < n; i++) {
      x[i] += y[i];
      sum += x[i];
    }
  } else {
#pragma omp simd reduction(+ : sum)
    for (long i = 0; i < n; i++) sum += x[i];
  }
  float mean = sum / (float)n, squares = 0.f;
#pragma omp simd reduction(+ : squares)
  for (long i = 0; i < n; i++) squares += (x[i] - mean) * (x[i] - mean);
  float inverse = 1.f / sqrtf(squares / (float)n + eps);
#pragma omp simd
  for (long i = 0; i < n; i++) out[i] = (x[i] - mean) * inverse * weight[i] + bias[i];
}

/* x = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) in place: GPT-2's activation (gelu_new). */
static void gelu_tanh(float *x, long n) {
#pragma omp simd
  for (long i = 0; i < n; i++) {
    float v = x[i];
    x[i] = 0.5f * v * (1.f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
  }
}

/* x += y where y is given (the residual), then out = x / sqrt(mean(x^2) + eps) * weight: an RMS norm of one row of
   n floats, as transformers' Llama models compute it. */
static void add_rms_norm(float *x, const float *y, const float *weight, float eps, float *out, long n) {
  float squares = 0.f;
  if (y) {
#pragma omp simd reduction(+ : squares)
    for (long i = 0; i < n; i++) {
      x[i] += y[i];
      squares += x[i] * x[i];
    }
  } else {
#pragma omp simd reduction(+ : squares)
    for (long i = 0; i < n; i++) squares += x[i] * x[i];
  }
  float inverse = 1.f / sqrtf(squares / (float)n + eps);
#pragma omp simd
  for (long i = 0; i < n; i++) out[i] = x[i] * inverse * weight[i];
}

/* Rotary positions on `count` rows of `dim` floats in place: x[i] = x[i] cos[i] + x[(i + dim / 2) % dim] sin[i],
   with the sines of the first half negated (transformers' rotate_half, as scribe's Llama decoder stores them). */
static void rotate(float *rows, long count, long dim, const float *cos, const float *sin) {
  long half = dim / 2;
  for (long r = 0; r < count; r++) {
    float *x = rows + r * dim;
    for (long i = 0; i < half; i++) {
      float first = x[i], second = x[i + half];
      x[i] = first * cos[i] + second * sin[i];
      x[i + half] = second * cos[i + half] + first * sin[i + half];
    }
  }
}

/* out = silu(gate) * up for one row of `gate_up` ([2n]: gates, then ups): a SwiGLU MLP's activation. `out` may be
   `gate_up` itself, or memory before it that ends before its ups. */
static void silu_mul(const float *gate_up, long n, float *out) {
#pragma omp simd
  for (long i = 0; i < n; i++) {
    float gate = gate_up[i];
    out[i] = gate / (1.f + expf(-gate)) * gate_up[n + i];
  }
}

/* A weight as scribe_step takes it: float32 blocks (scales NULL) or int8 blocks, as scribe_float_rows and
   scribe_int8_rows take them. */
typedef struct {
  const void *packed;
  const float *scales;
  const int32_t *sums;
  const float *bias;
  long outputs, inputs, padded;
} scribe_weight;

/* One layer of a one-token step: its four products (queries/keys/values, attention output, MLP in, MLP out), the
   norm after the attention and the norm after the MLP (the next layer's first norm, or the final norm; biases NULL
   for an RMS norm), and the attention's scale. */
typedef struct {
  scribe_weight qkv, out, up, down;
  const float *norm_weight, *norm_bias, *next_weight, *next_bias;
  float scale;
} scribe_layer;

static int product(const scribe_weight *w, const float *x, long rows, float *y, int threads) {
  if (w->scales)
    return scribe_int8_rows(x, rows, w->packed, w->scales, w->sums, w->bias, y, w->outputs, w->inputs, w->padded,
                            threads);
  scribe_float_rows(x, rows, w->packed, w->bias, y, w->outputs, w->inputs, threads);
  return 0;
}

/* x += y where y is given, then out = the norm of x (a layer norm, or an RMS norm where `bias` is NULL), for `rows`
   rows of n floats. */
static void add_norm(float *x, const float *y, const float *weight, const float *bias, float eps, float *out,
                     long rows, long n) {
  for (long r = 0; r < rows; r++) {
    const float *residual = y ? y + r * n : NULL;
    if (bias)
      add_layer_norm(x + r * n, residual, weight, bias, eps, out + r * n, n);
    else
      add_rms_norm(x + r * n, residual, weight, eps, out + r * n, n);
  }
}

/* A whole one-token step through `count` layers for `rows` rows at one position (one continuation, or several
   drafts of one prompt, each with its own cache): GPT-2 (layer norms, gelu) or, with `llama`, a Llama (RMS norms,
   rotary positions from one position's `cos` and `sin`, SwiGLU). On entry `x` ([rows, hidden]) holds the tokens'
   embedding rows; the first layer's norm (`first_weight`, `first_bias`, NULL for an RMS norm) is taken here; on
   return `h` ([rows, hidden]) is the final norm of the last layer's output. Each layer's keys and values go into
   `cache` ([layers, 2, rows, kv_heads, capacity, dim]) at `position`. Returns 0, or -1 where memory ran out. */
int scribe_step(const scribe_layer *layers, long count, int llama, long rows, float *x, float *h, cached *cache,
                long capacity, long position, long heads, long kv_heads, long dim, long hidden, long inner,
                const float *first_weight, const float *first_bias, const float *cos, const float *sin, float eps,
                int threads) {
  long width = (heads + 2 * kv_heads) * dim, head_cache = kv_heads * capacity * dim, layer_size = 2 * rows * head_cache;
  float *qkv = malloc(sizeof(float) * (size_t)(rows * width));
  float *attended = malloc(sizeof(float) * (size_t)(rows * heads * dim));
  float *y = malloc(sizeof(float) * (size_t)(rows * hidden));
  float *mlp = malloc(sizeof(float) * (size_t)(rows * (llama ? 2 : 1) * inner));
  int status = (qkv && attended && y && mlp) ? 0 : -1;
  if (!status) add_norm(x, NULL, first_weight, first_bias, eps, h, rows, hidden);
  for (long l = 0; l < count && !status; l++) {
    const scribe_layer *layer = layers + l;
    status |= product(&layer->qkv, h, rows, qkv, threads);
    if (llama)
      for (long r = 0; r < rows; r++) rotate(qkv + r * width, heads + kv_heads, dim, cos, sin);
    status |= attend_rows(qkv, rows, cache + l * layer_size, attended, position + 1, heads, kv_heads, dim, capacity,
                          layer->scale, threads);
    status |= product(&layer->out, attended, rows, y, threads);
    add_norm(x, y, layer->norm_weight, layer->norm_bias, eps, h, rows, hidden);
    status |= product(&layer->up, h, rows, mlp, threads);
    if (llama)  /* row r's activations go to mlp + r * inner, as the next product reads them */
      for (long r = 0; r < rows; r++) silu_mul(mlp + r * 2 * inner, inner, mlp + r * inner);
    else
      gelu_tanh(mlp, rows * inner);
    status |= product(&layer->down, mlp, rows, y, threads);
    add_norm(x, y, layer->next_weight, layer->next_bias, eps, h, rows, hidden);
  }
  free(qkv), free(attended), free(y), free(mlp);
  return status ? -1 : 0;
}

/* Whether (value a, position i) ranks below (value b, position j): a lower value, or an equal one further on. */
static inline int ranks_below(float a, long i, float b, long j) { return a < b || (a == b && i > j); }

/* Restore the heap order (lowest-ranked at the root) of `count` entries below `at`. */
static void sift_down(float *values, int64_t *positions, long count, long at) {
  for (;;) {
    long low = at, left = 2 * at + 1, right = left + 1;
    if (left < count && ranks_below(values[left], positions[left], values[low], positions[low])) low = left;
    if (right < count && ranks_below(values[right], positions[right], values[low], positions[low])) low = right;
    if (low == at) return;
    float value = values[at];
    int64_t position = positions[at];
    values[at] = values[low], positions[at] = positions[low];
    values[low] = value, positions[low] = position;
    at = low;
  }
}

/* The positions of the k highest of x[0..n) (1 <= k <= n, k <= TOP_MAX), best first, equal values in the order of
   their positions, written to `positions`. One pass: a heap of the k best so far, whose lowest is the bar each later
   value must pass (checked 16 values at a time, which rarely pass once the heap holds high values). Returns 0, or -1
   where more than TOP_PASSES values passed the bar (values that rise along x, where a sort is faster), leaving
   `positions` undefined. NaN values rank arbitrarily. */
int scribe_top(const float *x, long n, long k, int64_t *positions) {
  float values[TOP_MAX];
  for (long i = 0; i < k; i++) values[i] = x[i], positions[i] = i;
  for (long i = k / 2 - 1; i >= 0; i--) sift_down(values, positions, k, i);
  long i = k, passes = 0;
  for (; i < n; i += 16) {
    long end = i + 16 < n ? i + 16 : n;
    float bar = values[0];
    int passed = 0;
#pragma omp simd reduction(| : passed)
    for (long j = i; j < end; j++) passed |= x[j] > bar;
    if (!passed) continue;
    for (long j = i; j < end; j++)
      if (x[j] > values[0]) {
        if (++passes > TOP_PASSES) return -1;
        values[0] = x[j], positions[0] = j;
        sift_down(values, positions, k, 0);
      }
  }
  for (long count = k - 1; count > 0; count--) { /* the lowest-ranked goes last: best first */
    float value = values[0];
    int64_t position = positions[0];
    values[0] = values[count], positions[0] = positions[count];
    values[count] = value, positions[count] = position;
    sift_down(values, positions, count, 0);
  }
  return 0;
}
