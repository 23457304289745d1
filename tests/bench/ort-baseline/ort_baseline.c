/* The floor for `edgeagent bench`: ONNX Runtime called directly through its C API, with the same
 * settings the agent uses (one intra-op thread, spinning off, all optimizations, pre-created input
 * and output tensors, batch 1). No headers ship with the npm package, so the few entries of the
 * OrtApi function table we need are called by slot index (checked against onnxruntime_c_api.h; see
 * docs/BENCHMARKS.md and ../shared DESIGN §4). Only float32 inputs/outputs are supported.
 *
 * usage: ort_baseline MODEL [ITERATIONS] [WARMUP] [THREADS]   prints one JSON line
 * build: gcc -O2 -o ort_baseline ort_baseline.c -ldl -lm
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void *(*GetApiFn)(uint32_t);
typedef struct { GetApiFn GetApi; const char *(*GetVersionString)(void); } OrtApiBase;
typedef const OrtApiBase *(*OrtGetApiBaseFn)(void);
typedef void *Status;

static void *const *api;
#define SLOT(i, type) ((type)api[i])
static void check(Status st, const char *what) {
  if (st) {
    const char *msg = SLOT(2, const char *(*)(Status))(st);
    fprintf(stderr, "ort_baseline: %s failed: %s\n", what, msg);
    exit(1);
  }
}
static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static double now_us(void) {
  struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

typedef struct { char *name; int64_t dims[8]; size_t rank; size_t count; float *data; void *value; } Tensor;

static void describe(void *session, size_t index, int input, void *allocator, void *meminfo, Tensor *t) {
  char *name; void *typeinfo; const void *tinfo; int elem;
  check(SLOT(input ? 36 : 37, Status (*)(void *, size_t, void *, char **))(session, index, allocator, &name), "GetName");
  check(SLOT(input ? 33 : 34, Status (*)(void *, size_t, void **))(session, index, &typeinfo), "GetTypeInfo");
  check(SLOT(55, Status (*)(void *, const void **))(typeinfo, &tinfo), "CastTypeInfoToTensorInfo");
  check(SLOT(60, Status (*)(const void *, int *))(tinfo, &elem), "GetTensorElementType");
  if (elem != 1) { fprintf(stderr, "ort_baseline: %s is not float32 (type %d)\n", name, elem); exit(1); }
  check(SLOT(61, Status (*)(const void *, size_t *))(tinfo, &t->rank), "GetDimensionsCount");
  if (t->rank > 8) { fprintf(stderr, "ort_baseline: rank too high\n"); exit(1); }
  check(SLOT(62, Status (*)(const void *, int64_t *, size_t))(tinfo, t->dims, t->rank), "GetDimensions");
  t->count = 1;
  for (size_t d = 0; d < t->rank; d++) { if (t->dims[d] < 1) t->dims[d] = 1; t->count *= (size_t)t->dims[d]; }
  t->name = name;
  t->data = aligned_alloc(64, ((t->count * sizeof(float)) + 63) / 64 * 64);
  for (size_t i = 0; i < t->count; i++) t->data[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
  check(SLOT(49, Status (*)(void *, void *, size_t, const int64_t *, size_t, int, void **))(
            meminfo, t->data, t->count * sizeof(float), t->dims, t->rank, 1, &t->value), "CreateTensorWithDataAsOrtValue");
  SLOT(98, void (*)(void *))(typeinfo);
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: ort_baseline MODEL [ITERATIONS] [WARMUP] [THREADS]\n"); return 2; }
  const char *model = argv[1];
  int iterations = argc > 2 ? atoi(argv[2]) : 20000, warmup = argc > 3 ? atoi(argv[3]) : 2000;
  int threads = argc > 4 ? atoi(argv[4]) : 1;
  const char *lib = getenv("EDGEAGENT_ORT_PATH");
  void *h = dlopen(lib && *lib ? lib : "libonnxruntime.so.1", RTLD_NOW);
  if (!h) { fprintf(stderr, "ort_baseline: %s\n", dlerror()); return 1; }
  OrtGetApiBaseFn base = (OrtGetApiBaseFn)dlsym(h, "OrtGetApiBase");
  api = base()->GetApi(17);
  if (!api) { fprintf(stderr, "ort_baseline: GetApi(17) returned NULL\n"); return 1; }

  void *env, *opts, *session, *allocator, *meminfo;
  check(SLOT(3, Status (*)(int, const char *, void **))(3, "baseline", &env), "CreateEnv");
  check(SLOT(10, Status (*)(void **))(&opts), "CreateSessionOptions");
  check(SLOT(24, Status (*)(void *, int))(opts, threads), "SetIntraOpNumThreads");
  check(SLOT(25, Status (*)(void *, int))(opts, 1), "SetInterOpNumThreads");
  check(SLOT(23, Status (*)(void *, int))(opts, 99), "SetSessionGraphOptimizationLevel");
  check(SLOT(130, Status (*)(void *, const char *, const char *))(opts, "session.intra_op.allow_spinning", "0"), "AddSessionConfigEntry");
  check(SLOT(7, Status (*)(void *, const char *, void *, void **))(env, model, opts, &session), "CreateSession");
  check(SLOT(78, Status (*)(void **))(&allocator), "GetAllocatorWithDefaultOptions");
  check(SLOT(69, Status (*)(int, int, void **))(1, 0, &meminfo), "CreateCpuMemoryInfo");

  size_t nin, nout;
  check(SLOT(30, Status (*)(void *, size_t *))(session, &nin), "SessionGetInputCount");
  check(SLOT(31, Status (*)(void *, size_t *))(session, &nout), "SessionGetOutputCount");
  Tensor *in = calloc(nin, sizeof(Tensor)), *out = calloc(nout, sizeof(Tensor));
  const char **in_names = calloc(nin, sizeof(char *)), **out_names = calloc(nout, sizeof(char *));
  void **in_values = calloc(nin, sizeof(void *)), **out_values = calloc(nout, sizeof(void *));
  for (size_t i = 0; i < nin; i++) { describe(session, i, 1, allocator, meminfo, &in[i]); in_names[i] = in[i].name; in_values[i] = in[i].value; }
  for (size_t i = 0; i < nout; i++) { describe(session, i, 0, allocator, meminfo, &out[i]); out_names[i] = out[i].name; out_values[i] = out[i].value; }

  typedef Status (*RunFn)(void *, const void *, const char *const *, const void *const *, size_t, const char *const *, size_t, void **);
  RunFn run = SLOT(9, RunFn);
  for (int i = 0; i < warmup; i++) check(run(session, NULL, in_names, (const void *const *)in_values, nin, out_names, nout, out_values), "Run");
  double *lat = malloc(sizeof(double) * (size_t)iterations);
  double start = now_us();
  for (int i = 0; i < iterations; i++) {
    double t0 = now_us();
    check(run(session, NULL, in_names, (const void *const *)in_values, nin, out_names, nout, out_values), "Run");
    lat[i] = now_us() - t0;
  }
  double total = now_us() - start;
  qsort(lat, (size_t)iterations, sizeof(double), cmp);
#define PCT(p) lat[(size_t)((p) * (iterations - 1))]
  printf("{\"tool\":\"ort_baseline\",\"ortVersion\":\"%s\",\"iterations\":%d,\"p50Us\":%.3f,\"p90Us\":%.3f,\"p99Us\":%.3f,\"maxUs\":%.3f,\"runsPerSecond\":%.1f}\n",
         base()->GetVersionString(), iterations, PCT(0.5), PCT(0.9), PCT(0.99), lat[iterations - 1], iterations / (total / 1e6));
  return 0;
}
