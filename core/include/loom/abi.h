/* Loom plugin ABI: the only thing that crosses the boundary between libloom and a plugin.
 *
 * Rules (docs/plugins.md explains them with a walk-through):
 *  - Plain C only: no C++ object, exception, std:: type or allocator crosses this boundary.
 *  - Every struct below starts with `struct_size` (the plugin descriptor alone starts with the
 *    ABI version). Structs are append-only: a reader checks struct_size before touching a member
 *    that was added in a later minor version. Members marked (optional) may be NULL.
 *  - Arrays of records (the tensors of a run, the values, nodes and attributes of a graph view,
 *    options) are walked by their elements' struct_size, which is the same for every element of
 *    one array: element i sits at (const char*)array + i * array[0].struct_size. So a record can
 *    gain members without a major bump. The SDK's loom::sdk::record() does this.
 *  - Functions that can fail return a loom_status*: NULL means success. A non-NULL status was
 *    created by the callee and is released by the caller through status->release.
 *  - Whoever creates an object releases it, through the function of the side that made it.
 *  - Pointers passed into a call are borrowed for the duration of that call only, unless the
 *    member's comment says otherwise.
 *  - The host keeps a plugin's library loaded while any object created by it is alive.
 */
#ifndef LOOM_ABI_H
#define LOOM_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOOM_ABI_VERSION_MAJOR 2u
#define LOOM_ABI_VERSION_MINOR 2u

/* The version of the op registry (docs/ops.md) this header was released with. A backend states
 * the version it was built against; the host never places on it a node that uses an op
 * attribute, or a combination of input dtypes, added in a later version. */
#define LOOM_OPSET_VERSION 8u

/* The one symbol a plugin exports: `const loom_plugin* loom_plugin_entry(void)`. */
#define LOOM_PLUGIN_ENTRY_SYMBOL "loom_plugin_entry"

#if defined(_WIN32)
#define LOOM_PLUGIN_EXPORT __declspec(dllexport)
#else
#define LOOM_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------ status */

typedef struct loom_status {
  uint32_t struct_size;
  int32_t code;          /* LOOM_STATUS_* */
  const char* message;   /* UTF-8, owned by the status */
  void (*release)(struct loom_status* self);
} loom_status;

enum {
  LOOM_STATUS_ERROR = 1,           /* generic failure */
  LOOM_STATUS_INVALID_ARGUMENT = 2,
  LOOM_STATUS_UNSUPPORTED = 3,     /* the plugin cannot do what was asked */
  LOOM_STATUS_OUT_OF_MEMORY = 4,
  LOOM_STATUS_DEVICE_UNAVAILABLE = 5,
  LOOM_STATUS_DEVICE_LOST = 6,     /* the device is gone: the host stops using this backend */
  LOOM_STATUS_CANCELLED = 7        /* the run was stopped through loom_run_args.should_stop */
};

/* ------------------------------------------------------------------ tensors */

typedef enum loom_dtype {
  LOOM_DTYPE_INVALID = 0,
  LOOM_DTYPE_F32 = 1,
  LOOM_DTYPE_F16 = 2,
  LOOM_DTYPE_BF16 = 3,
  LOOM_DTYPE_I64 = 4,
  LOOM_DTYPE_I32 = 5,
  LOOM_DTYPE_U8 = 6
} loom_dtype;

/* A tensor with concrete dims. Host-memory backends get `data`; device-memory backends get
 * `buffer` + `offset`. */
typedef struct loom_tensor {
  uint32_t struct_size;
  int32_t dtype;           /* loom_dtype */
  int32_t rank;
  const int64_t* dims;     /* rank entries */
  const int64_t* strides;  /* (optional) rank entries, in elements; NULL: dense row-major */
  void* data;              /* host pointer, or NULL for device memory */
  void* buffer;            /* device buffer from buffer_alloc, or NULL for host memory */
  uint64_t offset;         /* byte offset into buffer */
} loom_tensor;

/* ------------------------------------------------------------------ graphs */

typedef enum loom_attr_type {
  LOOM_ATTR_INT = 1,
  LOOM_ATTR_FLOAT = 2,
  LOOM_ATTR_STRING = 3,
  LOOM_ATTR_INTS = 4,
  LOOM_ATTR_FLOATS = 5,
  LOOM_ATTR_BOOL = 6
} loom_attr_type;

/* Every attribute of a node's schema is present, with its default filled in by the host. */
typedef struct loom_attr {
  uint32_t struct_size;
  const char* name;
  int32_t type;           /* loom_attr_type */
  int64_t i;              /* INT, BOOL (0/1) */
  double f;               /* FLOAT */
  const char* s;          /* STRING */
  size_t count;           /* INTS, FLOATS */
  const int64_t* ints;
  const double* floats;
} loom_attr;

typedef enum loom_value_kind {
  LOOM_VALUE_ACTIVATION = 0,  /* produced and consumed inside the partition */
  LOOM_VALUE_INPUT = 1,       /* consumed here, produced outside (graph input or another partition) */
  LOOM_VALUE_OUTPUT = 2,      /* produced here, needed outside (graph output or another partition) */
  LOOM_VALUE_CONSTANT = 3,    /* initializer: `data` is valid for the executable's lifetime */
  LOOM_VALUE_STATE = 4        /* session state: persists across runs, may be written in place */
} loom_value_kind;

typedef struct loom_value {
  uint32_t struct_size;
  const char* name;
  int32_t kind;                   /* loom_value_kind */
  int32_t dtype;                  /* loom_dtype */
  int32_t rank;
  const int64_t* dims;            /* -1 where the dim is symbolic */
  const char* const* dim_exprs;   /* (optional) per dim: symbolic expression ("batch*seq") or NULL */
  const void* data;               /* CONSTANT only: host bytes, row-major; else NULL */
  uint64_t nbytes;                /* CONSTANT only */
} loom_value;

typedef struct loom_node {
  uint32_t struct_size;
  const char* name;
  const char* op;
  size_t num_inputs;
  const int32_t* inputs;     /* indices into the view's values; -1 for an absent optional input */
  size_t num_outputs;
  const int32_t* outputs;
  size_t num_attrs;
  const loom_attr* attrs;
} loom_node;

/* A graph or a partition of one; nodes are in a valid execution order. */
typedef struct loom_graph_view {
  uint32_t struct_size;
  size_t num_values;
  const loom_value* values;
  size_t num_nodes;
  const loom_node* nodes;
} loom_graph_view;

/* Concrete shapes of every value of a partition for one input-shape signature. */
typedef struct loom_shape_set {
  uint32_t struct_size;
  size_t num_values;
  const int32_t* ranks;             /* per value */
  const int64_t* const* dims;       /* per value: ranks[i] concrete dims */
} loom_shape_set;

typedef struct loom_run_args {
  uint32_t struct_size;
  size_t num_values;
  const loom_tensor* tensors;  /* one per value of the partition, same order as the view; their
                                * dims are this run's (below a plan's bounds, see LOOM_BACKEND_BOUNDED_SHAPES) */
  void* scratch;               /* host scratch of the plan's scratch_bytes (host backends) */
  void* scratch_buffer;        /* device scratch buffer (device backends) */
  uint64_t scratch_offset;
  uint64_t scratch_bytes;
  /* (optional) Polled by the backend between nodes (or other units of work of its choosing):
   * nonzero means stop now and return LOOM_STATUS_CANCELLED. Cheap and thread-safe. */
  int32_t (*should_stop)(void* stop_context);
  void* stop_context;
} loom_run_args;

/* ------------------------------------------------------------------ backends */

enum {
  LOOM_MEMORY_HOST = 1,   /* tensors live in host memory the host allocates */
  LOOM_MEMORY_DEVICE = 2  /* tensors live in buffers from buffer_alloc */
};

typedef struct loom_device_info {
  uint32_t struct_size;
  const char* name;         /* e.g. "CPU" ; owned by the plugin, valid while it is loaded */
  const char* description;  /* e.g. "oneDNN 2.6.3, avx512_core_bf16" */
  int32_t memory_kind;      /* LOOM_MEMORY_* */
} loom_device_info;

/* One key/value option (docs/plugins.md lists the keys every backend understands). */
typedef struct loom_option {
  uint32_t struct_size;
  const char* key;
  const char* value;
} loom_option;

typedef struct loom_backend_options {
  uint32_t struct_size;
  int32_t num_threads;        /* 0: the backend's default */
  size_t num_options;
  const loom_option* options; /* validated by create_backend: an unknown key or a value the backend
                               * cannot honour fails with a status that names it */
} loom_backend_options;

typedef struct loom_compile_options {
  uint32_t struct_size;
  const char* graph_name;
  /* Since 2.1 (check struct_size). (optional) The host's cache of packed constants: copies of a
   * CONSTANT value in a layout of the backend's own (blocked weights, a device upload), shared
   * by every session of one engine. A copy is keyed by the constant's `data` and `nbytes` (the
   * sessions of an engine over one weights file see the same addresses) and by `layout_key`,
   * a string that names everything the copy depends on besides the constant's bytes
   * ("onednn.matmul.AB16b64a:K=768:N=3072"). Call them during compile() only, with
   * `packed_context`. The host owns each copy (64-byte aligned, immutable) and keeps it for at
   * least the lifetime of the executable compiled with these options. */
  void* packed_context;
  /* The stored copy and its size in *packed_bytes, or NULL when there is none. */
  const void* (*find_packed)(void* packed_context, const void* constant_data, uint64_t constant_bytes,
                             const char* layout_key, uint64_t* packed_bytes);
  /* Stores `packed_bytes` bytes at `packed` as the copy and returns the host's copy, which is
   * one stored earlier under the same key when another session got there first (use the
   * returned pointer, not `packed`); NULL when the host cannot store it (out of memory). */
  const void* (*store_packed)(void* packed_context, const void* constant_data, uint64_t constant_bytes,
                              const char* layout_key, const void* packed, uint64_t packed_bytes);
  /* Since 2.2 (check struct_size). (optional) As store_packed, but the host takes the buffer
   * instead of copying it, so that a large copy is never resident twice: `packed` must be the
   * start of a mapping of `packed_bytes` bytes made by mmap(MAP_PRIVATE | MAP_ANONYMOUS) and
   * written by the plugin. On success it belongs to the host from the call on, which unmaps it
   * when the copy goes, or at once when it returns a copy stored earlier under the key; NULL
   * when the host cannot take it, and the mapping is still the plugin's. */
  const void* (*adopt_packed)(void* packed_context, const void* constant_data, uint64_t constant_bytes,
                              const char* layout_key, void* packed, uint64_t packed_bytes);
  /* Since 2.2. (optional) Says that the backend will not read [data, data + bytes), part of a
   * CONSTANT value, again (it has packed it): where the range lies in a weights file's mapping,
   * the host gives its whole pages back, which are read again from the file if anything touches
   * them. Advisory: values never change. Lets a backend pack a large constant without holding
   * it twice. */
  void (*release_constant)(void* packed_context, const void* data, uint64_t bytes);
} loom_compile_options;

/* A backend instance bound to one device, created per session. All functions take `self`.
 * compile()     -> an executable for one partition (shapes may be symbolic);
 * prepare()     -> a plan for concrete shapes, with the scratch bytes each run needs;
 * run()         -> executes a plan; may be called from several threads at once, each call
 *                  with its own tensors and scratch. */
enum {
  /* The backend accepts plans made at a symbol's upper bound: prepare() gets the shapes at the
   * bound, and each run passes the actual dims (each at most the bound) in its tensors. Without
   * the flag, the host prepares a plan per exact shape. */
  LOOM_BACKEND_BOUNDED_SHAPES = 1u << 0
};

typedef struct loom_backend {
  uint32_t struct_size;
  void* self;
  int32_t memory_kind;     /* LOOM_MEMORY_* */
  uint32_t opset_version;  /* LOOM_OPSET_VERSION the backend was built against */
  uint32_t flags;          /* LOOM_BACKEND_* */

  /* Returns 1 if the backend can run node `node_index` of `graph`; otherwise 0 and, (optional)
   * through *reason, a status saying why. */
  int32_t (*supports_node)(void* self, const loom_graph_view* graph, size_t node_index,
                           loom_status** reason);
  loom_status* (*compile)(void* self, const loom_graph_view* partition,
                          const loom_compile_options* options, void** executable);
  void (*release_executable)(void* self, void* executable);
  loom_status* (*prepare)(void* self, void* executable, const loom_shape_set* shapes,
                          void** plan, uint64_t* scratch_bytes);
  void (*release_plan)(void* self, void* plan);
  loom_status* (*run)(void* self, void* plan, const loom_run_args* args);

  /* Device memory (optional: NULL for LOOM_MEMORY_HOST backends). */
  loom_status* (*buffer_alloc)(void* self, uint64_t bytes, void** buffer);
  void (*buffer_free)(void* self, void* buffer);
  loom_status* (*buffer_write)(void* self, void* buffer, uint64_t offset, const void* src,
                               uint64_t bytes);
  loom_status* (*buffer_read)(void* self, void* buffer, uint64_t offset, void* dst,
                              uint64_t bytes);

  void (*release)(void* self);
  /* (optional) A feature outside the core ABI, by name ("vendor.feature.v1"): a pointer to a
   * table the name defines, valid while the backend lives; NULL when unknown. */
  const void* (*get_extension)(void* self, const char* name);
} loom_backend;

typedef struct loom_backend_plugin {
  uint32_t struct_size;
  size_t (*device_count)(void* plugin_state);
  loom_status* (*device_info)(void* plugin_state, size_t device, loom_device_info* info);
  loom_status* (*create_backend)(void* plugin_state, size_t device,
                                 const loom_backend_options* options, loom_backend** backend);
  void (*release_backend)(void* plugin_state, loom_backend* backend);
} loom_backend_plugin;

/* ------------------------------------------------------------------ model plugins */

typedef struct loom_model_request {
  uint32_t struct_size;
  const char* model_type;      /* config.json's "model_type" */
  const char* config_json;     /* the whole config.json text */
  const char* checkpoint_dir;  /* folder holding config.json and the weights */
  const char* weights_file;    /* relative to checkpoint_dir: the safetensors file, or the
                                * index of a sharded checkpoint (model.safetensors.index.json) */
  const char* task;            /* HF pipeline name, e.g. "fill-mask"; "" for the default */
  const char* weights_header;  /* JSON {name: {dtype, shape, data_offsets}}: the safetensors
                                * header as it is; for a sharded checkpoint every shard's entries
                                * merged, each with "file" (its shard), without __metadata__
                                * (docs/plugins.md, "Sharded checkpoints") */
} loom_model_request;

typedef struct loom_model_result {
  uint32_t struct_size;
  const char* graph_yaml;  /* a graph in the YAML format (docs/graph-format.md), with its
                            * `processing:` section (tokenizer, image processor, generation, tasks) */
} loom_model_result;

typedef struct loom_model_plugin {
  uint32_t struct_size;
  size_t num_architectures;
  const char* const* architectures;  /* HF model_type names this plugin accepts */
  loom_status* (*expand)(void* plugin_state, const loom_model_request* request,
                         loom_model_result** result);
  void (*release_result)(void* plugin_state, loom_model_result* result);
} loom_model_plugin;

/* ------------------------------------------------------------------ the plugin */

typedef enum loom_plugin_kind {
  LOOM_PLUGIN_BACKEND = 1,
  LOOM_PLUGIN_MODEL = 2
} loom_plugin_kind;

typedef struct loom_host {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  const char* host_version;
} loom_host;

/* Returned by loom_plugin_entry(). The first four members never move. */
typedef struct loom_plugin {
  uint32_t abi_major;       /* LOOM_ABI_VERSION_MAJOR the plugin was built with */
  uint32_t abi_minor;
  int32_t kind;             /* loom_plugin_kind */
  const char* name;         /* unique, e.g. "onednn" */
  const char* version;      /* the plugin's own version */
  const char* description;
  /* (optional) called once after loading; may refuse with a status. */
  loom_status* (*init)(const loom_host* host, void** plugin_state);
  /* (optional) called once before unloading. */
  void (*shutdown)(void* plugin_state);
  const loom_backend_plugin* backend;  /* kind == BACKEND */
  const loom_model_plugin* model;      /* kind == MODEL */
  /* (optional) A feature outside the core ABI, by name; NULL when unknown. */
  const void* (*get_extension)(void* plugin_state, const char* name);
} loom_plugin;

typedef const loom_plugin* (*loom_plugin_entry_fn)(void);

/* Extension names of loom_plugin.get_extension that the host asks about.
 * LOOM_EXTENSION_ON_REQUEST: a backend plugin that answers non-NULL (the pointer is not read) runs
 * only in sessions that name it (SessionOptions.backends, `--backend`), never by default
 * placement: an oracle or debugging backend that must not be chosen over a fast one. */
#define LOOM_EXTENSION_ON_REQUEST "loom.backend.on_request.v1"

/* Extension names of loom_backend.get_extension that the host asks about.
 * LOOM_EXTENSION_DEVICE_TIME: a backend that can time its work on its device (GPU timestamps)
 * answers with a loom_device_time_v1 table. When a caller times a run's partitions
 * (RunOptions::timings, `loom bench --profile`), the host runs each of the backend's plans
 * through run_timed instead of loom_backend.run and records the time alongside its own clock's.
 * A backend whose device cannot time its work answers NULL, and its partitions get host times
 * only. */
#define LOOM_EXTENSION_DEVICE_TIME "loom.backend.device_time.v1"

typedef struct loom_device_time_v1 {
  uint32_t struct_size;
  /* Runs the plan as loom_backend.run does. On success *device_ns is the time the device spent on
   * the run's work, from the start of its first command to the end of its last, in nanoseconds;
   * UINT64_MAX when this run could not be timed. */
  loom_status* (*run_timed)(void* self, void* plan, const loom_run_args* args, uint64_t* device_ns);
} loom_device_time_v1;


#ifdef __cplusplus
}
#endif

#endif /* LOOM_ABI_H */
