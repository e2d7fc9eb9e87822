/*
 * A strict simulated CUDA driver (libcuda.so) for zc-cuda's tests.
 *
 * Built by tests/support/mod.rs into a temp directory as libcuda.so and
 * libcuda.so.1; the GPU tests run in a child process whose LD_LIBRARY_PATH
 * points there, so cudarc's dynamic loader picks it up like the real driver.
 *
 * What it models (with the driver's documented error codes):
 *  - devices (FAKE_CUDA_DEVICES, default 1) with a name, total memory and the
 *    attributes zc-cuda and cudarc query; cuInit first, or NOT_INITIALIZED;
 *  - primary contexts (retain/release with a reference count; a released
 *    context is dead and a later retain makes a new one) and the calling
 *    thread's current context;
 *  - streams, each with a worker thread that runs the queued work later
 *    (FAKE_CUDA_DELAY_US per operation, default 50), events recorded into
 *    streams (query, synchronize, elapsed time from the worker's clock),
 *    stream waits on events;
 *  - device memory in its own address range, reserved PROT_NONE so the CPU
 *    faults on a device pointer; the bytes live in a separate backing store
 *    and start as 0xA5 (never accidentally zero);
 *  - pinned host allocations, host registration in place (overlaps are
 *    HOST_MEMORY_ALREADY_REGISTERED), device pointers of both (UVA: same
 *    address), managed memory (host-addressable) with prefetch and advice,
 *    v1 and v2 entry points;
 *  - stream-ordered allocation and free (the free runs on the stream), the
 *    device memory pool and its attributes: freed memory stays reserved up
 *    to the release threshold, trimmed at synchronisation;
 *  - memset and all copy directions, sync and async.
 *
 * Strict checks a real driver does not make, each logged to stderr and
 * counted (read with zc_fake_cuda_count, and written to FAKE_CUDA_REPORT at
 * exit):
 *  - free_in_use / unregister_in_use: freeing or unregistering memory that
 *    queued, unfinished work still uses (refused with ILLEGAL_STATE, nothing
 *    freed);
 *  - pageable_async: an async copy on pageable host memory that is not
 *    followed by a synchronisation of its stream before more work is queued
 *    on it (such a copy is not really asynchronous);
 *  - host_touched: the host side of a queued copy changed between queueing
 *    and execution (checksummed at both points);
 *  - double_free: freeing, unregistering or destroying twice;
 *  - wrong_context: memory or a stream of another context, or no current
 *    context;
 *  - bad_pointer: a device range outside any live allocation (or after free);
 *  - leaked: anything still allocated, registered or created when a primary
 *    context is released.
 * Also counted: unsupported (an entry point this fake does not implement:
 * NOT_SUPPORTED and a log line) and injected (failures from FAKE_CUDA_FAIL
 * "cuMemAlloc_v2:3,cuEventRecord:1=999" — the Nth call of a function from
 * process start fails, with the code after '=' or a default).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef int CUresult;
typedef int CUdevice;
typedef uint64_t CUdeviceptr;
typedef struct fctx *CUcontext;
typedef struct fstream *CUstream;
typedef struct fevent *CUevent;
typedef struct fpool *CUmemoryPool;
typedef struct {
    int type;
    int id;
} CUmemLocation;

enum {
    CUDA_SUCCESS = 0,
    E_INVALID_VALUE = 1,
    E_OUT_OF_MEMORY = 2,
    E_NOT_INITIALIZED = 3,
    E_NO_DEVICE = 100,
    E_INVALID_DEVICE = 101,
    E_INVALID_CONTEXT = 201,
    E_INVALID_HANDLE = 400,
    E_ILLEGAL_STATE = 401,
    E_NOT_READY = 600,
    E_CONTEXT_IS_DESTROYED = 709,
    E_ALREADY_REGISTERED = 712,
    E_NOT_REGISTERED = 713,
    E_NOT_SUPPORTED = 801,
    E_UNKNOWN = 999,
};

#define MAX_DEVICES 4
#define PAGE 4096u
#define DEV_SPACE (1ull << 38) /* 256 GiB of reserved device addresses */
#define LOG_CAP (8u << 20)

/* ---- counters ---------------------------------------------------------- */

enum counter {
    C_FREE_IN_USE,
    C_UNREGISTER_IN_USE,
    C_PAGEABLE_ASYNC,
    C_HOST_TOUCHED,
    C_DOUBLE_FREE,
    C_WRONG_CONTEXT,
    C_BAD_POINTER,
    C_LEAKED,
    C_UNSUPPORTED,
    C_INJECTED,
    C_COUNT
};
static const char *const counter_names[C_COUNT] = {
    "free_in_use", "unregister_in_use", "pageable_async", "host_touched", "double_free",
    "wrong_context", "bad_pointer", "leaked", "unsupported", "injected",
};

/* ---- global state (one lock, one condition for every wait) -------------- */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init;
static int g_paused;
static long g_counters[C_COUNT];

static struct {
    int devices;
    long delay_us;
    int managed, concurrent_managed, pools, host_register, read_only_register;
    int version;
    uint64_t mem_bytes;
    FILE *log_file;
} cfg;

static char *g_log;
static size_t g_log_len;

struct fn_stat {
    char name[64];
    long calls;
    long fail_at;
    int fail_code;
};
static struct fn_stat g_fns[160];
static int g_nfns;

static unsigned char *g_dev_base;
static uint64_t g_dev_next;
static uint64_t g_dev_used[MAX_DEVICES];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Append a line to the call log (caller holds g_lock). */
static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = (int)sizeof line - 1;
    if (cfg.log_file)
        fprintf(cfg.log_file, "%s\n", line);
    if (!g_log)
        g_log = malloc(LOG_CAP);
    if (g_log && g_log_len + (size_t)n + 2 < LOG_CAP) {
        memcpy(g_log + g_log_len, line, (size_t)n);
        g_log_len += (size_t)n;
        g_log[g_log_len++] = '\n';
        g_log[g_log_len] = '\0';
    }
}

/* A strict-check violation: counted, logged, and always printed. */
static void hazard(enum counter c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hazard(enum counter c, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    g_counters[c]++;
    log_line("HAZARD %s: %s", counter_names[c], msg);
    fprintf(stderr, "fake-cuda: HAZARD %s: %s\n", counter_names[c], msg);
}

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    long x = strtol(v, &end, 10);
    return *end ? dflt : x;
}

static struct fn_stat *fn_stat(const char *name)
{
    for (int i = 0; i < g_nfns; i++)
        if (strcmp(g_fns[i].name, name) == 0)
            return &g_fns[i];
    if (g_nfns == (int)(sizeof g_fns / sizeof g_fns[0]))
        return NULL;
    struct fn_stat *s = &g_fns[g_nfns++];
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

static int default_fail_code(const char *name)
{
    if (strstr(name, "Alloc") || strstr(name, "Register"))
        return E_OUT_OF_MEMORY;
    return E_UNKNOWN;
}

/* FAKE_CUDA_FAIL="name:N[=code],..." (caller holds g_lock). */
static void parse_failures(const char *spec)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        if (!colon) {
            fprintf(stderr, "fake-cuda: FAKE_CUDA_FAIL item '%s' has no ':N'\n", item);
            continue;
        }
        *colon = '\0';
        char *eq = strchr(colon + 1, '=');
        if (eq)
            *eq = '\0';
        struct fn_stat *s = fn_stat(item);
        if (!s)
            continue;
        s->fail_at = strtol(colon + 1, NULL, 10);
        s->fail_code = eq ? (int)strtol(eq + 1, NULL, 10) : default_fail_code(item);
    }
}

static void write_report(void) __attribute__((destructor));

static void configure(void)
{
    cfg.devices = (int)env_long("FAKE_CUDA_DEVICES", 1);
    if (cfg.devices < 0)
        cfg.devices = 0;
    if (cfg.devices > MAX_DEVICES)
        cfg.devices = MAX_DEVICES;
    cfg.delay_us = env_long("FAKE_CUDA_DELAY_US", 50);
    cfg.managed = (int)env_long("FAKE_CUDA_MANAGED", 1);
    cfg.concurrent_managed = (int)env_long("FAKE_CUDA_CONCURRENT_MANAGED", 1);
    cfg.pools = (int)env_long("FAKE_CUDA_POOLS", 1);
    cfg.host_register = (int)env_long("FAKE_CUDA_HOST_REGISTER", 1);
    cfg.read_only_register = (int)env_long("FAKE_CUDA_READ_ONLY_REGISTER", 1);
    cfg.version = (int)env_long("FAKE_CUDA_VERSION", 12080);
    cfg.mem_bytes = (uint64_t)env_long("FAKE_CUDA_MEM_MB", 16384) << 20;
    const char *lf = getenv("FAKE_CUDA_LOG");
    if (lf && strcmp(lf, "stderr") == 0)
        cfg.log_file = stderr;
    else if (lf && *lf)
        cfg.log_file = fopen(lf, "a");
    void *base = mmap(NULL, DEV_SPACE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    g_dev_base = base == MAP_FAILED ? NULL : base;
    g_dev_next = (uint64_t)(uintptr_t)g_dev_base + (1u << 20);
    const char *fail = getenv("FAKE_CUDA_FAIL");
    pthread_mutex_lock(&g_lock);
    if (fail && *fail)
        parse_failures(fail);
    pthread_mutex_unlock(&g_lock);
}

/* Every entry point starts here: call log, call count, injected failure. */
static CUresult enter(const char *name)
{
    pthread_once(&g_once, configure);
    pthread_mutex_lock(&g_lock);
    struct fn_stat *s = fn_stat(name);
    CUresult rc = CUDA_SUCCESS;
    if (s) {
        s->calls++;
        if (s->fail_at && s->calls == s->fail_at) {
            rc = s->fail_code;
            g_counters[C_INJECTED]++;
            log_line("%s: injected failure %d (call %ld)", name, rc, s->calls);
        }
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

#define ENTER(name)                                                                                \
    do {                                                                                           \
        CUresult e_ = enter(name);                                                                 \
        if (e_)                                                                                    \
            return e_;                                                                             \
    } while (0)
#define ENTER_INIT(name)                                                                           \
    do {                                                                                           \
        ENTER(name);                                                                               \
        if (!__atomic_load_n(&g_init, __ATOMIC_ACQUIRE))                                           \
            return E_NOT_INITIALIZED;                                                              \
    } while (0)

/* ---- contexts, streams, events, pools ----------------------------------- */

struct fpool {
    int dev;
    uint64_t threshold, used, cached, used_high, reserved_high;
    int reuse[3];
};

struct fctx {
    int dev;
    int alive;
    int refs;
    unsigned serial;
    struct fstream *null_stream;
};

enum op_type { OP_COPY, OP_MEMSET, OP_EVENT, OP_WAIT, OP_FREE, OP_PREFETCH };

struct op {
    enum op_type type;
    struct op *next;
    uint64_t seq;
    /* copies and memset: byte addresses resolved at execution time */
    long dst_rec, src_rec; /* record index of a device-side operand, or -1 */
    uint64_t dst, src;     /* device address, or host address when rec is -1 */
    size_t n;
    unsigned char value;
    int host_side;      /* 0: none, 1: src is host memory, 2: dst is host memory */
    uint64_t checksum;  /* of the host side when queued */
    const char *what;
    struct fevent *ev;
    struct fstream *wait_stream;
    uint64_t wait_seq;
    int location;
};

struct fstream {
    struct fctx *ctx;
    struct fstream *next_all;
    struct op *head, *tail;
    uint64_t submitted, completed;
    int destroyed, is_null, pageable_unsynced, worker_started;
    unsigned id;
    pthread_t thread;
};

struct fevent {
    struct fctx *ctx;
    struct fevent *next_all;
    unsigned flags;
    int destroyed, recorded;
    struct fstream *stream;
    uint64_t seq;
    uint64_t time_ns;
    unsigned id;
};

static struct fctx *g_primary[MAX_DEVICES];
static struct fpool g_pools[MAX_DEVICES];
static struct fstream *g_streams;
static struct fevent *g_events;
static unsigned g_next_id = 1;
static __thread struct fctx *t_current;

/* ---- memory records ------------------------------------------------------ */

enum kind { K_DEVICE, K_DEVICE_ASYNC, K_MANAGED, K_PINNED, K_REGISTERED };
static const char *const kind_names[] = {"device", "device(stream-ordered)", "managed", "pinned", "registered"};
#define M_DEVICE_SIDE ((1u << K_DEVICE) | (1u << K_DEVICE_ASYNC) | (1u << K_MANAGED) | (1u << K_PINNED) | (1u << K_REGISTERED))
#define M_LOCKED ((1u << K_PINNED) | (1u << K_REGISTERED) | (1u << K_MANAGED))

struct rec {
    enum kind kind;
    uint64_t addr;
    size_t size, map_len;
    unsigned char *mem; /* backing store of device memory */
    struct fctx *ctx;
    int live, free_queued, pending;
    unsigned flags, advice;
    int location;
};
static struct rec *g_recs;
static long g_nrecs, g_caprecs;

static long add_rec(struct rec r)
{
    if (g_nrecs == g_caprecs) {
        long cap = g_caprecs ? g_caprecs * 2 : 256;
        struct rec *p = realloc(g_recs, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        g_recs = p;
        g_caprecs = cap;
    }
    r.live = 1;
    g_recs[g_nrecs] = r;
    return g_nrecs++;
}

/* The live record of a kind in `mask` holding [addr, addr+n), or -1. */
static long find_live(uint64_t addr, size_t n, unsigned mask)
{
    for (long i = g_nrecs - 1; i >= 0; i--) {
        struct rec *r = &g_recs[i];
        if (r->live && (mask & (1u << r->kind)) && addr >= r->addr && addr - r->addr <= r->size &&
            n <= r->size - (addr - r->addr))
            return i;
    }
    return -1;
}

static long find_exact(uint64_t addr, unsigned mask, int live)
{
    for (long i = g_nrecs - 1; i >= 0; i--) {
        struct rec *r = &g_recs[i];
        if (r->live == live && (mask & (1u << r->kind)) && r->addr == addr)
            return i;
    }
    return -1;
}

static int in_device_space(uint64_t addr)
{
    uint64_t base = (uint64_t)(uintptr_t)g_dev_base;
    return g_dev_base && addr >= base && addr < base + DEV_SPACE;
}

static unsigned char *bytes_of(long rec, uint64_t addr)
{
    struct rec *r = &g_recs[rec];
    if (r->kind == K_DEVICE || r->kind == K_DEVICE_ASYNC)
        return r->mem + (addr - r->addr);
    return (unsigned char *)(uintptr_t)addr;
}

static uint64_t checksum(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 1099511628211ull;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void release_backing(struct rec *r)
{
    switch (r->kind) {
    case K_DEVICE:
    case K_DEVICE_ASYNC:
        free(r->mem);
        r->mem = NULL;
        if (r->ctx)
            g_dev_used[r->ctx->dev] -= r->size;
        break;
    case K_MANAGED:
    case K_PINNED:
        /* Keep the addresses reserved so a use after free faults and a
         * double free is recognised; give the pages back. */
        madvise((void *)(uintptr_t)r->addr, r->map_len, MADV_DONTNEED);
        mprotect((void *)(uintptr_t)r->addr, r->map_len, PROT_NONE);
        break;
    case K_REGISTERED:
        break;
    }
    r->live = 0;
}

/* ---- streams and their workers ------------------------------------------ */

static struct fpool *pool_of(struct fctx *c) { return &g_pools[c->dev]; }

static void exec_op(struct fstream *s, struct op *o)
{
    switch (o->type) {
    case OP_COPY: {
        unsigned char *dst = o->dst_rec >= 0 ? bytes_of(o->dst_rec, o->dst) : (unsigned char *)(uintptr_t)o->dst;
        unsigned char *src = o->src_rec >= 0 ? bytes_of(o->src_rec, o->src) : (unsigned char *)(uintptr_t)o->src;
        unsigned char *host = o->host_side == 1 ? src : o->host_side == 2 ? dst : NULL;
        if (host && checksum(host, o->n) != o->checksum)
            hazard(C_HOST_TOUCHED, "%s: host buffer %p (%zu bytes) was touched while the async copy was pending",
                   o->what, (void *)host, o->n);
        memmove(dst, src, o->n);
        break;
    }
    case OP_MEMSET:
        memset(bytes_of(o->dst_rec, o->dst), o->value, o->n);
        break;
    case OP_EVENT:
        if (o->ev->stream == s && o->ev->seq == o->seq)
            o->ev->time_ns = now_ns();
        break;
    case OP_WAIT:
        break;
    case OP_FREE: {
        struct rec *r = &g_recs[o->dst_rec];
        if (r->pending > 0) {
            hazard(C_FREE_IN_USE, "cuMemFreeAsync: %#llx is still used by %d queued operation(s) of another stream",
                   (unsigned long long)r->addr, r->pending);
            r->free_queued = 0;
            break;
        }
        struct fpool *p = pool_of(r->ctx);
        if (r->kind == K_DEVICE_ASYNC) {
            p->used -= r->size;
            p->cached += r->size;
        }
        release_backing(r);
        log_line("freed (stream-ordered) %#llx", (unsigned long long)r->addr);
        break;
    }
    case OP_PREFETCH:
        g_recs[o->dst_rec].location = o->location;
        break;
    }
    if (o->dst_rec >= 0 && o->type != OP_FREE && o->type != OP_PREFETCH)
        g_recs[o->dst_rec].pending--;
    if (o->src_rec >= 0)
        g_recs[o->src_rec].pending--;
}

static void *worker(void *arg)
{
    struct fstream *s = arg;
    pthread_mutex_lock(&g_lock);
    for (;;) {
        while (!(s->destroyed && !s->head) && (!s->head || g_paused))
            pthread_cond_wait(&g_cond, &g_lock);
        if (!s->head)
            break;
        struct op *o = s->head;
        if (o->type == OP_WAIT)
            while (o->wait_stream->completed < o->wait_seq)
                pthread_cond_wait(&g_cond, &g_lock);
        if (cfg.delay_us > 0) {
            pthread_mutex_unlock(&g_lock);
            usleep((useconds_t)cfg.delay_us);
            pthread_mutex_lock(&g_lock);
        }
        while (g_paused)
            pthread_cond_wait(&g_cond, &g_lock);
        exec_op(s, o);
        s->head = o->next;
        if (!s->head)
            s->tail = NULL;
        s->completed = o->seq;
        free(o);
        pthread_cond_broadcast(&g_cond);
    }
    pthread_mutex_unlock(&g_lock);
    return NULL;
}

static struct fstream *new_stream(struct fctx *c, int is_null)
{
    struct fstream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ctx = c;
    s->is_null = is_null;
    s->id = g_next_id++;
    if (pthread_create(&s->thread, NULL, worker, s) != 0) {
        free(s);
        return NULL;
    }
    pthread_detach(s->thread);
    s->worker_started = 1;
    s->next_all = g_streams;
    g_streams = s;
    return s;
}

static int stream_valid(struct fstream *s)
{
    for (struct fstream *p = g_streams; p; p = p->next_all)
        if (p == s)
            return !s->destroyed;
    return 0;
}

/* The stream a handle names (NULL and the legacy/per-thread handles: the
 * current context's default stream), or NULL with *rc set. */
static struct fstream *resolve_stream(CUstream h, CUresult *rc)
{
    uintptr_t v = (uintptr_t)h;
    if (v == 0 || v == 1 || v == 2) {
        struct fctx *c = t_current;
        if (!c || !c->alive) {
            *rc = E_INVALID_CONTEXT;
            return NULL;
        }
        if (!c->null_stream)
            c->null_stream = new_stream(c, 1);
        if (!c->null_stream)
            *rc = E_OUT_OF_MEMORY;
        return c->null_stream;
    }
    if (!stream_valid(h)) {
        *rc = E_INVALID_HANDLE;
        return NULL;
    }
    if (h->ctx != t_current) {
        hazard(C_WRONG_CONTEXT, "stream %u belongs to another context than the current one", h->id);
        *rc = E_INVALID_CONTEXT;
        return NULL;
    }
    return h;
}

/* Queue `o` on `s` (caller holds g_lock), applying the pageable rule. */
static void enqueue(struct fstream *s, struct op *o, int pageable)
{
    if (s->pageable_unsynced) {
        hazard(C_PAGEABLE_ASYNC,
               "stream %u: an async copy on pageable host memory was not synchronised before more work was queued "
               "(use pinned or registered memory for async copies)",
               s->id);
        s->pageable_unsynced = 0;
    }
    if (pageable)
        s->pageable_unsynced = 1;
    o->seq = ++s->submitted;
    o->next = NULL;
    if (s->tail)
        s->tail->next = o;
    else
        s->head = o;
    s->tail = o;
    pthread_cond_broadcast(&g_cond);
}

static void trim_pool(struct fpool *p)
{
    if (p->used + p->cached > p->threshold)
        p->cached = p->threshold > p->used ? p->threshold - p->used : 0;
}

static void wait_stream(struct fstream *s, uint64_t seq)
{
    while (s->completed < seq)
        pthread_cond_wait(&g_cond, &g_lock);
}

/* Wait for all work of a context (caller holds g_lock). */
static void drain_ctx(struct fctx *c)
{
    for (struct fstream *s = g_streams; s; s = s->next_all)
        if (s->ctx == c) {
            wait_stream(s, s->submitted);
            s->pageable_unsynced = 0;
        }
    trim_pool(pool_of(c));
}

static struct op *new_op(enum op_type t)
{
    struct op *o = calloc(1, sizeof *o);
    if (o) {
        o->type = t;
        o->dst_rec = -1;
        o->src_rec = -1;
    }
    return o;
}

/* ---- initialisation, version, errors -------------------------------------- */

CUresult cuInit(unsigned int flags)
{
    ENTER("cuInit");
    if (flags != 0)
        return E_INVALID_VALUE;
    __atomic_store_n(&g_init, 1, __ATOMIC_RELEASE);
    return cfg.devices == 0 ? E_NO_DEVICE : CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int *v)
{
    ENTER("cuDriverGetVersion");
    if (!v)
        return E_INVALID_VALUE;
    *v = cfg.version;
    return CUDA_SUCCESS;
}

static const struct {
    int code;
    const char *name, *text;
} g_errors[] = {
    {0, "CUDA_SUCCESS", "no error"},
    {1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {401, "CUDA_ERROR_ILLEGAL_STATE", "the operation cannot be performed in the present state"},
    {600, "CUDA_ERROR_NOT_READY", "device not ready"},
    {700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {709, "CUDA_ERROR_CONTEXT_IS_DESTROYED", "context is destroyed"},
    {712, "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED", "part or all of the requested memory range is already mapped"},
    {713, "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED", "pointer does not correspond to a registered memory region"},
    {719, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {801, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {999, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

static CUresult error_lookup(CUresult code, const char **out, int name)
{
    if (!out)
        return E_INVALID_VALUE;
    for (size_t i = 0; i < sizeof g_errors / sizeof g_errors[0]; i++)
        if (g_errors[i].code == code) {
            *out = name ? g_errors[i].name : g_errors[i].text;
            return CUDA_SUCCESS;
        }
    *out = NULL;
    return E_INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult code, const char **s)
{
    ENTER("cuGetErrorString");
    return error_lookup(code, s, 0);
}

CUresult cuGetErrorName(CUresult code, const char **s)
{
    ENTER("cuGetErrorName");
    return error_lookup(code, s, 1);
}

/* ---- devices ---------------------------------------------------------------- */

static int dev_ok(CUdevice d) { return d >= 0 && d < cfg.devices; }

CUresult cuDeviceGetCount(int *n)
{
    ENTER_INIT("cuDeviceGetCount");
    if (!n)
        return E_INVALID_VALUE;
    *n = cfg.devices;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *d, int ordinal)
{
    ENTER_INIT("cuDeviceGet");
    if (!d)
        return E_INVALID_VALUE;
    if (!dev_ok(ordinal))
        return E_INVALID_DEVICE;
    *d = ordinal;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice d)
{
    ENTER_INIT("cuDeviceGetName");
    if (!name || len <= 0)
        return E_INVALID_VALUE;
    if (!dev_ok(d))
        return E_INVALID_DEVICE;
    snprintf(name, (size_t)len, "zc simulated CUDA device %d", d);
    return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d)
{
    ENTER_INIT("cuDeviceTotalMem_v2");
    if (!bytes)
        return E_INVALID_VALUE;
    if (!dev_ok(d))
        return E_INVALID_DEVICE;
    *bytes = (size_t)cfg.mem_bytes;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *v, int attr, CUdevice d)
{
    ENTER_INIT("cuDeviceGetAttribute");
    if (!v)
        return E_INVALID_VALUE;
    if (!dev_ok(d))
        return E_INVALID_DEVICE;
    switch (attr) {
    case 1: *v = 1024; break;                     /* MAX_THREADS_PER_BLOCK */
    case 10: *v = 32; break;                      /* WARP_SIZE */
    case 16: *v = 4; break;                       /* MULTIPROCESSOR_COUNT */
    case 18: *v = 0; break;                       /* INTEGRATED */
    case 19: *v = 1; break;                       /* CAN_MAP_HOST_MEMORY */
    case 31: *v = 1; break;                       /* CONCURRENT_KERNELS */
    case 33: *v = d + 1; break;                   /* PCI_BUS_ID */
    case 40: *v = 2; break;                       /* ASYNC_ENGINE_COUNT */
    case 41: *v = 1; break;                       /* UNIFIED_ADDRESSING */
    case 75: *v = 9; break;                       /* COMPUTE_CAPABILITY_MAJOR */
    case 76: *v = 0; break;                       /* COMPUTE_CAPABILITY_MINOR */
    case 83: *v = cfg.managed; break;             /* MANAGED_MEMORY */
    case 88: *v = 0; break;                       /* PAGEABLE_MEMORY_ACCESS */
    case 89: *v = cfg.managed && cfg.concurrent_managed; break; /* CONCURRENT_MANAGED_ACCESS */
    case 91: *v = 1; break;                       /* CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM */
    case 99: *v = cfg.host_register; break;       /* HOST_REGISTER_SUPPORTED */
    case 113: *v = cfg.read_only_register; break; /* READ_ONLY_HOST_REGISTER_SUPPORTED */
    case 115: *v = cfg.pools; break;              /* MEMORY_POOLS_SUPPORTED */
    default:
        pthread_mutex_lock(&g_lock);
        g_counters[C_UNSUPPORTED]++;
        log_line("cuDeviceGetAttribute: attribute %d is not simulated", attr);
        pthread_mutex_unlock(&g_lock);
        fprintf(stderr, "fake-cuda: cuDeviceGetAttribute: attribute %d is not simulated (NOT_SUPPORTED)\n", attr);
        return E_NOT_SUPPORTED;
    }
    return CUDA_SUCCESS;
}

/* ---- contexts ---------------------------------------------------------------- */

CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice d)
{
    ENTER_INIT("cuDevicePrimaryCtxRetain");
    if (!pctx)
        return E_INVALID_VALUE;
    if (!dev_ok(d))
        return E_INVALID_DEVICE;
    pthread_mutex_lock(&g_lock);
    struct fctx *c = g_primary[d];
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c) {
            pthread_mutex_unlock(&g_lock);
            return E_OUT_OF_MEMORY;
        }
        c->dev = d;
        c->alive = 1;
        c->serial = g_next_id++;
        g_primary[d] = c;
        g_pools[d].dev = d;
        log_line("primary context %u of device %d created", c->serial, d);
    }
    c->refs++;
    *pctx = c;
    pthread_mutex_unlock(&g_lock);
    return CUDA_SUCCESS;
}

/* The leak report: everything of `c` still alive when it goes away. */
static void release_ctx(struct fctx *c)
{
    drain_ctx(c);
    for (long i = 0; i < g_nrecs; i++) {
        struct rec *r = &g_recs[i];
        if (r->live && r->ctx == c) {
            hazard(C_LEAKED, "%s memory %#llx (%zu bytes) still allocated/registered when context %u was released",
                   kind_names[r->kind], (unsigned long long)r->addr, r->size, c->serial);
            if (r->kind == K_DEVICE || r->kind == K_DEVICE_ASYNC)
                release_backing(r);
            else
                r->live = 0;
        }
    }
    for (struct fstream *s = g_streams; s; s = s->next_all)
        if (s->ctx == c && !s->destroyed && !s->is_null) {
            hazard(C_LEAKED, "stream %u not destroyed when context %u was released", s->id, c->serial);
            s->destroyed = 1;
        }
    for (struct fevent *e = g_events; e; e = e->next_all)
        if (e->ctx == c && !e->destroyed) {
            hazard(C_LEAKED, "event %u not destroyed when context %u was released", e->id, c->serial);
            e->destroyed = 1;
        }
    if (c->null_stream)
        c->null_stream->destroyed = 1;
    struct fpool *p = pool_of(c);
    p->used = p->cached = 0;
    c->alive = 0;
    g_primary[c->dev] = NULL;
    log_line("primary context %u of device %d released", c->serial, c->dev);
    pthread_cond_broadcast(&g_cond);
}

static CUresult primary_release(const char *name, CUdevice d)
{
    ENTER_INIT(name);
    if (!dev_ok(d))
        return E_INVALID_DEVICE;
    pthread_mutex_lock(&g_lock);
    struct fctx *c = g_primary[d];
    CUresult rc = CUDA_SUCCESS;
    if (!c || c->refs <= 0)
        rc = E_INVALID_CONTEXT;
    else if (--c->refs == 0)
        release_ctx(c);
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) { return primary_release("cuDevicePrimaryCtxRelease_v2", d); }
CUresult cuDevicePrimaryCtxRelease(CUdevice d) { return primary_release("cuDevicePrimaryCtxRelease", d); }

CUresult cuCtxGetCurrent(CUcontext *pctx)
{
    ENTER_INIT("cuCtxGetCurrent");
    if (!pctx)
        return E_INVALID_VALUE;
    *pctx = t_current;
    return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext c)
{
    ENTER_INIT("cuCtxSetCurrent");
    pthread_mutex_lock(&g_lock);
    int ok = !c || c->alive;
    pthread_mutex_unlock(&g_lock);
    if (!ok)
        return E_CONTEXT_IS_DESTROYED;
    t_current = c;
    return CUDA_SUCCESS;
}

/* The current context, or an error (caller does not hold g_lock). */
static CUresult current(struct fctx **out)
{
    struct fctx *c = t_current;
    if (!c)
        return E_INVALID_CONTEXT;
    if (!c->alive)
        return E_CONTEXT_IS_DESTROYED;
    *out = c;
    return CUDA_SUCCESS;
}

CUresult cuCtxGetDevice(CUdevice *d)
{
    ENTER_INIT("cuCtxGetDevice");
    struct fctx *c;
    CUresult rc = current(&c);
    if (rc)
        return rc;
    if (!d)
        return E_INVALID_VALUE;
    *d = c->dev;
    return CUDA_SUCCESS;
}

CUresult cuCtxSynchronize(void)
{
    ENTER_INIT("cuCtxSynchronize");
    struct fctx *c;
    CUresult rc = current(&c);
    if (rc)
        return rc;
    pthread_mutex_lock(&g_lock);
    drain_ctx(c);
    pthread_mutex_unlock(&g_lock);
    return CUDA_SUCCESS;
}

CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
    ENTER_INIT("cuMemGetInfo_v2");
    struct fctx *c;
    CUresult rc = current(&c);
    if (rc)
        return rc;
    if (!free_bytes || !total)
        return E_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    uint64_t used = g_dev_used[c->dev] + pool_of(c)->cached;
    *total = (size_t)cfg.mem_bytes;
    *free_bytes = (size_t)(used > cfg.mem_bytes ? 0 : cfg.mem_bytes - used);
    pthread_mutex_unlock(&g_lock);
    return CUDA_SUCCESS;
}

/* ---- streams ---------------------------------------------------------------- */

CUresult cuStreamCreate(CUstream *ps, unsigned int flags)
{
    ENTER_INIT("cuStreamCreate");
    struct fctx *c;
    CUresult rc = current(&c);
    if (rc)
        return rc;
    if (!ps || flags > 1)
        return E_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    struct fstream *s = new_stream(c, 0);
    if (s)
        log_line("stream %u created", s->id);
    pthread_mutex_unlock(&g_lock);
    if (!s)
        return E_OUT_OF_MEMORY;
    *ps = s;
    return CUDA_SUCCESS;
}

CUresult cuStreamDestroy_v2(CUstream h)
{
    ENTER_INIT("cuStreamDestroy_v2");
    pthread_mutex_lock(&g_lock);
    CUresult rc = CUDA_SUCCESS;
    int known = 0;
    for (struct fstream *p = g_streams; p; p = p->next_all)
        known |= p == h;
    if (!known || h->is_null)
        rc = E_INVALID_HANDLE;
    else if (h->destroyed) {
        hazard(C_DOUBLE_FREE, "stream %u destroyed twice", h->id);
        rc = E_INVALID_HANDLE;
    } else {
        /* Like the driver: queued work still completes, then the worker ends. */
        h->destroyed = 1;
        log_line("stream %u destroyed", h->id);
        pthread_cond_broadcast(&g_cond);
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuStreamSynchronize(CUstream h)
{
    ENTER_INIT("cuStreamSynchronize");
    pthread_mutex_lock(&g_lock);
    CUresult rc = CUDA_SUCCESS;
    struct fstream *s = resolve_stream(h, &rc);
    if (s) {
        wait_stream(s, s->submitted);
        s->pageable_unsynced = 0;
        trim_pool(pool_of(s->ctx));
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuStreamQuery(CUstream h)
{
    ENTER_INIT("cuStreamQuery");
    pthread_mutex_lock(&g_lock);
    CUresult rc = CUDA_SUCCESS;
    struct fstream *s = resolve_stream(h, &rc);
    if (s && s->completed < s->submitted)
        rc = E_NOT_READY;
    pthread_mutex_unlock(&g_lock);
    return rc;
}

/* ---- events ---------------------------------------------------------------- */

static int event_valid(struct fevent *e)
{
    for (struct fevent *p = g_events; p; p = p->next_all)
        if (p == e)
            return !e->destroyed;
    return 0;
}

CUresult cuEventCreate(CUevent *pe, unsigned int flags)
{
    ENTER_INIT("cuEventCreate");
    struct fctx *c;
    CUresult rc = current(&c);
    if (rc)
        return rc;
    if (!pe || (flags & ~7u))
        return E_INVALID_VALUE;
    struct fevent *e = calloc(1, sizeof *e);
    if (!e)
        return E_OUT_OF_MEMORY;
    pthread_mutex_lock(&g_lock);
    e->ctx = c;
    e->flags = flags;
    e->id = g_next_id++;
    e->next_all = g_events;
    g_events = e;
    pthread_mutex_unlock(&g_lock);
    *pe = e;
    return CUDA_SUCCESS;
}

CUresult cuEventDestroy_v2(CUevent e)
{
    ENTER_INIT("cuEventDestroy_v2");
    pthread_mutex_lock(&g_lock);
    CUresult rc = CUDA_SUCCESS;
    int known = 0;
    for (struct fevent *p = g_events; p; p = p->next_all)
        known |= p == e;
    if (!known)
        rc = E_INVALID_HANDLE;
    else if (e->destroyed) {
        hazard(C_DOUBLE_FREE, "event %u destroyed twice", e->id);
        rc = E_INVALID_HANDLE;
    } else
        e->destroyed = 1; /* kept: a queued record may still name it */
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuEventRecord(CUevent e, CUstream h)
{
    ENTER_INIT("cuEventRecord");
    pthread_mutex_lock(&g_lock);
    CUresult rc = CUDA_SUCCESS;
    struct fstream *s = resolve_stream(h, &rc);
    struct op *o = NULL;
    if (s && !event_valid(e))
        rc = E_INVALID_HANDLE;
    else if (s && e->ctx != s->ctx) {
        hazard(C_WRONG_CONTEXT, "event %u recorded on a stream of another context", e->id);
        rc = E_INVALID_CONTEXT;
    } else if (s && !(o = new_op(OP_EVENT)))
        rc = E_OUT_OF_MEMORY;
    if (o) {
        o->ev = e;
        enqueue(s, o, 0);
        e->recorded = 1;
        e->stream = s;
        e->seq = o->seq;
        e->time_ns = 0;
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

static int event_done(struct fevent *e) { return !e->recorded || e->stream->completed >= e->seq; }

CUresult cuEventQuery(CUevent e)
{
    ENTER_INIT("cuEventQuery");
    pthread_mutex_lock(&g_lock);
    CUresult rc = !event_valid(e) ? E_INVALID_HANDLE : event_done(e) ? CUDA_SUCCESS : E_NOT_READY;
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuEventSynchronize(CUevent e)
{
    ENTER_INIT("cuEventSynchronize");
    pthread_mutex_lock(&g_lock);
    CUresult rc = CUDA_SUCCESS;
    if (!event_valid(e))
        rc = E_INVALID_HANDLE;
    else if (e->recorded) {
        wait_stream(e->stream, e->seq);
        trim_pool(pool_of(e->ctx));
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuEventElapsedTime(float *ms, CUevent a, CUevent b)
{
    ENTER_INIT("cuEventElapsedTime");
    if (!ms)
        return E_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    CUresult rc = CUDA_SUCCESS;
    if (!event_valid(a) || !event_valid(b))
        rc = E_INVALID_HANDLE;
    else if ((a->flags | b->flags) & 2u) /* CU_EVENT_DISABLE_TIMING */
        rc = E_INVALID_HANDLE;
    else if (!a->recorded || !b->recorded)
        rc = E_INVALID_HANDLE;
    else if (!event_done(a) || !event_done(b))
        rc = E_NOT_READY;
    else
        *ms = (float)((double)((int64_t)(b->time_ns - a->time_ns)) / 1e6);
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuStreamWaitEvent(CUstream h, CUevent e, unsigned int flags)
{
    ENTER_INIT("cuStreamWaitEvent");
    if (flags > 1)
        return E_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    CUresult rc = CUDA_SUCCESS;
    struct fstream *s = resolve_stream(h, &rc);
    struct op *o = NULL;
    if (s && !event_valid(e))
        rc = E_INVALID_HANDLE;
    else if (s && e->recorded && !(o = new_op(OP_WAIT)))
        rc = E_OUT_OF_MEMORY;
    if (o) {
        o->wait_stream = e->stream;
        o->wait_seq = e->seq;
        enqueue(s, o, 0);
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

/* ---- allocation ---------------------------------------------------------------- */

static CUresult device_alloc(const char *name, CUdeviceptr *out, size_t n, enum kind kind, struct fstream *s)
{
    struct fctx *c;
    CUresult rc = current(&c);
    if (rc)
        return rc;
    if (!out || n == 0)
        return E_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    uint64_t span = ((uint64_t)n + PAGE - 1) / PAGE * PAGE + PAGE; /* a guard page between allocations */
    unsigned char *mem = NULL;
    if (!g_dev_base || g_dev_used[c->dev] + n > cfg.mem_bytes ||
        g_dev_next + span > (uint64_t)(uintptr_t)g_dev_base + DEV_SPACE || !(mem = malloc(n))) {
        pthread_mutex_unlock(&g_lock);
        return E_OUT_OF_MEMORY;
    }
    memset(mem, 0xA5, n);
    struct rec r = {.kind = kind, .addr = g_dev_next, .size = n, .mem = mem, .ctx = c};
    long i = add_rec(r);
    if (i < 0) {
        free(mem);
        pthread_mutex_unlock(&g_lock);
        return E_OUT_OF_MEMORY;
    }
    g_dev_next += span;
    g_dev_used[c->dev] += n;
    if (kind == K_DEVICE_ASYNC) {
        struct fpool *p = pool_of(c);
        p->cached = p->cached > n ? p->cached - n : 0;
        p->used += n;
        if (p->used > p->used_high)
            p->used_high = p->used;
        if (p->used + p->cached > p->reserved_high)
            p->reserved_high = p->used + p->cached;
    }
    log_line("%s %zu bytes -> %#llx%s", name, n, (unsigned long long)g_recs[i].addr, s ? " (stream-ordered)" : "");
    *out = g_recs[i].addr;
    pthread_mutex_unlock(&g_lock);
    return CUDA_SUCCESS;
}

CUresult cuMemAlloc_v2(CUdeviceptr *out, size_t n)
{
    ENTER_INIT("cuMemAlloc_v2");
    return device_alloc("cuMemAlloc_v2", out, n, K_DEVICE, NULL);
}

CUresult cuMemAllocAsync(CUdeviceptr *out, size_t n, CUstream h)
{
    ENTER_INIT("cuMemAllocAsync");
    if (!cfg.pools)
        return E_NOT_SUPPORTED;
    pthread_mutex_lock(&g_lock);
    CUresult rc = CUDA_SUCCESS;
    struct fstream *s = resolve_stream(h, &rc);
    pthread_mutex_unlock(&g_lock);
    if (!s)
        return rc;
    return device_alloc("cuMemAllocAsync", out, n, K_DEVICE_ASYNC, s);
}

/* Double free / unknown pointer diagnosis for frees (caller holds g_lock). */
static CUresult not_live(const char *name, uint64_t p, unsigned mask, CUresult code)
{
    if (find_exact(p, mask, 0) >= 0 || find_exact(p, mask, 1) >= 0)
        hazard(C_DOUBLE_FREE, "%s(%#llx): already freed", name, (unsigned long long)p);
    else
        hazard(C_BAD_POINTER, "%s(%#llx): not an allocation of this kind", name, (unsigned long long)p);
    return code;
}

CUresult cuMemFree_v2(CUdeviceptr p)
{
    ENTER_INIT("cuMemFree_v2");
    struct fctx *c;
    CUresult rc = current(&c);
    if (rc)
        return rc;
    unsigned mask = (1u << K_DEVICE) | (1u << K_DEVICE_ASYNC) | (1u << K_MANAGED);
    pthread_mutex_lock(&g_lock);
    long i = find_exact(p, mask, 1);
    if (i < 0 || g_recs[i].free_queued)
        rc = not_live("cuMemFree_v2", p, mask, E_INVALID_VALUE);
    else if (g_recs[i].pending > 0) {
        hazard(C_FREE_IN_USE, "cuMemFree_v2(%#llx): %d queued operation(s) still use it", (unsigned long long)p,
               g_recs[i].pending);
        rc = E_ILLEGAL_STATE;
    } else {
        if (g_recs[i].kind == K_DEVICE_ASYNC) {
            pool_of(g_recs[i].ctx)->used -= g_recs[i].size;
            pool_of(g_recs[i].ctx)->cached += g_recs[i].size;
        }
        release_backing(&g_recs[i]);
        log_line("cuMemFree_v2 %#llx", (unsigned long long)p);
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuMemFreeAsync(CUdeviceptr p, CUstream h)
{
    ENTER_INIT("cuMemFreeAsync");
    unsigned mask = (1u << K_DEVICE) | (1u << K_DEVICE_ASYNC);
    pthread_mutex_lock(&g_lock);
    CUresult rc = CUDA_SUCCESS;
    struct fstream *s = resolve_stream(h, &rc);
    long i = s ? find_exact(p, mask, 1) : -1;
    struct op *o = NULL;
    if (!s) {
        /* rc set */
    } else if (i < 0 || g_recs[i].free_queued)
        rc = not_live("cuMemFreeAsync", p, mask, E_INVALID_VALUE);
    else if (g_recs[i].ctx != s->ctx) {
        hazard(C_WRONG_CONTEXT, "cuMemFreeAsync(%#llx) on a stream of another context", (unsigned long long)p);
        rc = E_INVALID_VALUE;
    } else if (!(o = new_op(OP_FREE)))
        rc = E_OUT_OF_MEMORY;
    else {
        g_recs[i].free_queued = 1;
        o->dst_rec = i;
        enqueue(s, o, 0);
        log_line("cuMemFreeAsync %#llx queued on stream %u", (unsigned long long)p, s->id);
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

static void *map_pages(size_t n, size_t *map_len)
{
    *map_len = (n + PAGE - 1) / PAGE * PAGE;
    void *p = mmap(NULL, *map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    memset(p, 0xA5, n);
    return p;
}

static CUresult host_alloc(const char *name, void **pp, size_t n, unsigned flags, enum kind kind)
{
    struct fctx *c;
    CUresult rc = current(&c);
    if (rc)
        return rc;
    if (!pp || n == 0)
        return E_INVALID_VALUE;
    size_t map_len;
    void *p = map_pages(n, &map_len);
    if (!p)
        return E_OUT_OF_MEMORY;
    pthread_mutex_lock(&g_lock);
    struct rec r = {.kind = kind, .addr = (uint64_t)(uintptr_t)p, .size = n, .map_len = map_len, .ctx = c,
                    .flags = flags, .location = -1};
    if (add_rec(r) < 0) {
        pthread_mutex_unlock(&g_lock);
        munmap(p, map_len);
        return E_OUT_OF_MEMORY;
    }
    log_line("%s %zu bytes flags=%#x -> %p", name, n, flags, p);
    pthread_mutex_unlock(&g_lock);
    *pp = p;
    return CUDA_SUCCESS;
}

CUresult cuMemHostAlloc(void **pp, size_t n, unsigned int flags)
{
    ENTER_INIT("cuMemHostAlloc");
    if (flags & ~7u)
        return E_INVALID_VALUE;
    return host_alloc("cuMemHostAlloc", pp, n, flags, K_PINNED);
}

CUresult cuMemAllocHost_v2(void **pp, size_t n)
{
    ENTER_INIT("cuMemAllocHost_v2");
    return host_alloc("cuMemAllocHost_v2", pp, n, 0, K_PINNED);
}

CUresult cuMemFreeHost(void *p)
{
    ENTER_INIT("cuMemFreeHost");
    struct fctx *c;
    CUresult rc = current(&c);
    if (rc)
        return rc;
    unsigned mask = 1u << K_PINNED;
    pthread_mutex_lock(&g_lock);
    long i = find_exact((uint64_t)(uintptr_t)p, mask, 1);
    if (i < 0)
        rc = not_live("cuMemFreeHost", (uint64_t)(uintptr_t)p, mask, E_INVALID_VALUE);
    else if (g_recs[i].pending > 0) {
        hazard(C_FREE_IN_USE, "cuMemFreeHost(%p): %d queued operation(s) still use it", p, g_recs[i].pending);
        rc = E_ILLEGAL_STATE;
    } else {
        release_backing(&g_recs[i]);
        log_line("cuMemFreeHost %p", p);
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuMemAllocManaged(CUdeviceptr *out, size_t n, unsigned int flags)
{
    ENTER_INIT("cuMemAllocManaged");
    if (!cfg.managed)
        return E_NOT_SUPPORTED;
    if (flags != 1 && flags != 2) /* CU_MEM_ATTACH_GLOBAL or _HOST */
        return E_INVALID_VALUE;
    void *p = NULL;
    CUresult rc = host_alloc("cuMemAllocManaged", &p, n, flags, K_MANAGED);
    if (rc == CUDA_SUCCESS)
        *out = (CUdeviceptr)(uintptr_t)p;
    return rc;
}

CUresult cuMemHostRegister_v2(void *p, size_t n, unsigned int flags)
{
    ENTER_INIT("cuMemHostRegister_v2");
    struct fctx *c;
    CUresult rc = current(&c);
    if (rc)
        return rc;
    if (!cfg.host_register)
        return E_NOT_SUPPORTED;
    if (!p || n == 0 || (flags & ~0xFu))
        return E_INVALID_VALUE;
    if ((flags & 8u) && !cfg.read_only_register)
        return E_NOT_SUPPORTED;
    uint64_t a = (uint64_t)(uintptr_t)p;
    uint64_t lo = a / PAGE * PAGE, hi = (a + n + PAGE - 1) / PAGE * PAGE;
    /* The whole range must be mapped host memory (msync fails with ENOMEM
     * on a gap), and not device addresses. */
    if (in_device_space(a) || msync((void *)(uintptr_t)lo, (size_t)(hi - lo), MS_ASYNC) != 0) {
        pthread_mutex_lock(&g_lock);
        hazard(C_BAD_POINTER, "cuMemHostRegister(%p, %zu): not mapped host memory", p, n);
        pthread_mutex_unlock(&g_lock);
        return E_INVALID_VALUE;
    }
    pthread_mutex_lock(&g_lock);
    for (long i = 0; i < g_nrecs; i++) {
        struct rec *r = &g_recs[i];
        if (!r->live || (r->kind != K_REGISTERED && r->kind != K_PINNED))
            continue;
        uint64_t rlo = r->addr / PAGE * PAGE, rhi = (r->addr + r->size + PAGE - 1) / PAGE * PAGE;
        if (lo < rhi && rlo < hi) {
            log_line("cuMemHostRegister_v2 %p %zu: overlaps %s memory at %#llx", p, n, kind_names[r->kind],
                     (unsigned long long)r->addr);
            pthread_mutex_unlock(&g_lock);
            return E_ALREADY_REGISTERED;
        }
    }
    struct rec r = {.kind = K_REGISTERED, .addr = a, .size = n, .ctx = c, .flags = flags, .location = -1};
    rc = add_rec(r) < 0 ? E_OUT_OF_MEMORY : CUDA_SUCCESS;
    log_line("cuMemHostRegister_v2 %p %zu bytes flags=%#x", p, n, flags);
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuMemHostUnregister(void *p)
{
    ENTER_INIT("cuMemHostUnregister");
    struct fctx *c;
    CUresult rc = current(&c);
    if (rc)
        return rc;
    unsigned mask = 1u << K_REGISTERED;
    uint64_t a = (uint64_t)(uintptr_t)p;
    pthread_mutex_lock(&g_lock);
    long i = find_exact(a, mask, 1);
    if (i < 0) {
        if (find_exact(a, mask, 0) >= 0)
            hazard(C_DOUBLE_FREE, "cuMemHostUnregister(%p): already unregistered", p);
        rc = E_NOT_REGISTERED;
    } else if (g_recs[i].pending > 0) {
        hazard(C_UNREGISTER_IN_USE, "cuMemHostUnregister(%p): %d queued operation(s) still use it", p,
               g_recs[i].pending);
        rc = E_ILLEGAL_STATE;
    } else {
        g_recs[i].live = 0;
        log_line("cuMemHostUnregister %p", p);
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *out, void *p, unsigned int flags)
{
    ENTER_INIT("cuMemHostGetDevicePointer_v2");
    if (!out || flags != 0)
        return E_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    long i = find_live((uint64_t)(uintptr_t)p, 1, (1u << K_PINNED) | (1u << K_REGISTERED));
    pthread_mutex_unlock(&g_lock);
    if (i < 0)
        return E_INVALID_VALUE;
    *out = (CUdeviceptr)(uintptr_t)p; /* unified addressing: the same address */
    return CUDA_SUCCESS;
}

/* ---- copies and memset ---------------------------------------------------------- */

/* A device-side operand: the live record holding [p, p+n) (caller holds g_lock). */
static CUresult device_operand(const char *name, uint64_t p, size_t n, struct fstream *s, long *rec)
{
    long i = find_live(p, n, M_DEVICE_SIDE);
    if (i < 0) {
        long dead = -1;
        for (long j = g_nrecs - 1; j >= 0 && dead < 0; j--)
            if (!g_recs[j].live && p >= g_recs[j].addr && p < g_recs[j].addr + g_recs[j].size)
                dead = j;
        hazard(C_BAD_POINTER, "%s: device range %#llx+%zu is %s", name, (unsigned long long)p, n,
               dead >= 0 ? "freed memory" : "outside every live allocation");
        return E_INVALID_VALUE;
    }
    struct rec *r = &g_recs[i];
    int portable = (r->kind == K_PINNED || r->kind == K_REGISTERED) && (r->flags & 1u);
    if (r->ctx != s->ctx && !portable) {
        hazard(C_WRONG_CONTEXT, "%s: %s memory %#llx belongs to another context", name, kind_names[r->kind],
               (unsigned long long)r->addr);
        return E_INVALID_VALUE;
    }
    *rec = i;
    return CUDA_SUCCESS;
}

/* A host-side operand: -1 (pageable) or the page-locked record holding it. */
static CUresult host_operand(const char *name, uint64_t p, size_t n, struct fstream *s, long *rec, int *pageable)
{
    if (in_device_space(p)) {
        hazard(C_BAD_POINTER, "%s: host pointer %#llx is a device address", name, (unsigned long long)p);
        return E_INVALID_VALUE;
    }
    long i = find_live(p, n, M_LOCKED);
    if (i >= 0 && (g_recs[i].ctx == s->ctx || (g_recs[i].flags & 1u) || g_recs[i].kind == K_MANAGED)) {
        *rec = i;
        *pageable = 0;
        return CUDA_SUCCESS;
    }
    uint64_t lo = p / PAGE * PAGE, hi = (p + n + PAGE - 1) / PAGE * PAGE;
    if (msync((void *)(uintptr_t)lo, (size_t)(hi - lo), MS_ASYNC) != 0) {
        hazard(C_BAD_POINTER, "%s: host range %#llx+%zu is not mapped", name, (unsigned long long)p, n);
        return E_INVALID_VALUE;
    }
    *rec = -1;
    *pageable = 1;
    return CUDA_SUCCESS;
}

enum dir { HTOD, DTOH, DTOD };
static const char *const dir_names[] = {"HtoD", "DtoH", "DtoD"};

static CUresult copy_common(const char *name, enum dir dir, uint64_t dst, uint64_t src, size_t n, CUstream h,
                            int async)
{
    struct fctx *c;
    CUresult rc = current(&c);
    if (rc)
        return rc;
    if (n == 0)
        return CUDA_SUCCESS;
    pthread_mutex_lock(&g_lock);
    struct fstream *s = resolve_stream(h, &rc);
    struct op *o = NULL;
    long host_rec = -1;
    int pageable = 0;
    if (!s)
        goto out;
    if (!(o = new_op(OP_COPY))) {
        rc = E_OUT_OF_MEMORY;
        goto out;
    }
    o->n = n;
    o->dst = dst;
    o->src = src;
    o->what = name;
    switch (dir) {
    case HTOD:
        rc = device_operand(name, dst, n, s, &o->dst_rec);
        if (!rc)
            rc = host_operand(name, src, n, s, &host_rec, &pageable);
        o->host_side = 1;
        break;
    case DTOH:
        rc = device_operand(name, src, n, s, &o->src_rec);
        if (!rc)
            rc = host_operand(name, dst, n, s, &host_rec, &pageable);
        o->host_side = 2;
        break;
    case DTOD:
        rc = device_operand(name, dst, n, s, &o->dst_rec);
        if (!rc)
            rc = device_operand(name, src, n, s, &o->src_rec);
        break;
    }
    if (rc) {
        free(o);
        o = NULL;
        goto out;
    }
    /* Page-locked host memory is tracked like device memory (pending uses). */
    if (host_rec >= 0) {
        if (dir == HTOD)
            o->src_rec = host_rec;
        else
            o->dst_rec = host_rec;
    }
    if (o->host_side)
        o->checksum = checksum((const unsigned char *)(uintptr_t)(dir == HTOD ? src : dst), n);
    if (o->dst_rec >= 0)
        g_recs[o->dst_rec].pending++;
    if (o->src_rec >= 0)
        g_recs[o->src_rec].pending++;
    log_line("%s %s %zu bytes %#llx -> %#llx stream %u%s", name, dir_names[dir], n, (unsigned long long)src,
             (unsigned long long)dst, s->id, pageable ? " (pageable)" : "");
    enqueue(s, o, async && pageable);
    if (!async)
        wait_stream(s, o->seq);
out:
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream s)
{
    ENTER_INIT("cuMemcpyHtoDAsync_v2");
    return copy_common("cuMemcpyHtoDAsync_v2", HTOD, dst, (uint64_t)(uintptr_t)src, n, s, 1);
}

CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream s)
{
    ENTER_INIT("cuMemcpyDtoHAsync_v2");
    return copy_common("cuMemcpyDtoHAsync_v2", DTOH, (uint64_t)(uintptr_t)dst, src, n, s, 1);
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    ENTER_INIT("cuMemcpyDtoDAsync_v2");
    return copy_common("cuMemcpyDtoDAsync_v2", DTOD, dst, src, n, s, 1);
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n)
{
    ENTER_INIT("cuMemcpyHtoD_v2");
    return copy_common("cuMemcpyHtoD_v2", HTOD, dst, (uint64_t)(uintptr_t)src, n, NULL, 0);
}

CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n)
{
    ENTER_INIT("cuMemcpyDtoH_v2");
    return copy_common("cuMemcpyDtoH_v2", DTOH, (uint64_t)(uintptr_t)dst, src, n, NULL, 0);
}

CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
    ENTER_INIT("cuMemcpyDtoD_v2");
    return copy_common("cuMemcpyDtoD_v2", DTOD, dst, src, n, NULL, 0);
}

static CUresult memset_common(const char *name, uint64_t dst, unsigned char v, size_t n, CUstream h, int async)
{
    struct fctx *c;
    CUresult rc = current(&c);
    if (rc)
        return rc;
    if (n == 0)
        return CUDA_SUCCESS;
    pthread_mutex_lock(&g_lock);
    struct fstream *s = resolve_stream(h, &rc);
    struct op *o = NULL;
    if (s && !(o = new_op(OP_MEMSET)))
        rc = E_OUT_OF_MEMORY;
    if (o && (rc = device_operand(name, dst, n, s, &o->dst_rec)) != CUDA_SUCCESS) {
        free(o);
        o = NULL;
    }
    if (o) {
        o->dst = dst;
        o->n = n;
        o->value = v;
        g_recs[o->dst_rec].pending++;
        log_line("%s %#llx %zu bytes value %u stream %u", name, (unsigned long long)dst, n, v, s->id);
        enqueue(s, o, 0);
        if (!async)
            wait_stream(s, o->seq);
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char v, size_t n, CUstream s)
{
    ENTER_INIT("cuMemsetD8Async");
    return memset_common("cuMemsetD8Async", dst, v, n, s, 1);
}

CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char v, size_t n)
{
    ENTER_INIT("cuMemsetD8_v2");
    return memset_common("cuMemsetD8_v2", dst, v, n, NULL, 0);
}

/* ---- managed memory: prefetch and advice ----------------------------------------- */

/* -1: host; a device ordinal; -2: invalid. */
static int location_of(CUmemLocation loc)
{
    if (loc.type == 1)
        return dev_ok(loc.id) ? loc.id : -2; /* CU_MEM_LOCATION_TYPE_DEVICE */
    if (loc.type == 2 || loc.type == 3 || loc.type == 4)
        return -1; /* HOST, HOST_NUMA, HOST_NUMA_CURRENT */
    return -2;
}

static int location_of_device(CUdevice d) { return d == -1 ? -1 : dev_ok(d) ? d : -2; }

static CUresult prefetch_common(const char *name, uint64_t p, size_t n, int where, CUstream h)
{
    struct fctx *c;
    CUresult rc = current(&c);
    if (rc)
        return rc;
    if (where == -2)
        return E_INVALID_DEVICE;
    if (where >= 0 && !cfg.concurrent_managed)
        return E_INVALID_DEVICE;
    pthread_mutex_lock(&g_lock);
    struct fstream *s = resolve_stream(h, &rc);
    long i = s ? find_live(p, n, 1u << K_MANAGED) : -1;
    struct op *o = NULL;
    if (s && i < 0) {
        hazard(C_BAD_POINTER, "%s: %#llx+%zu is not managed memory", name, (unsigned long long)p, n);
        rc = E_INVALID_VALUE;
    } else if (s && !(o = new_op(OP_PREFETCH)))
        rc = E_OUT_OF_MEMORY;
    if (o) {
        o->dst_rec = i;
        o->location = where;
        log_line("%s %#llx %zu bytes to %s%d", name, (unsigned long long)p, n, where < 0 ? "host" : "device ",
                 where < 0 ? 0 : where);
        enqueue(s, o, 0);
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuMemPrefetchAsync_v2(CUdeviceptr p, size_t n, CUmemLocation loc, unsigned int flags, CUstream s)
{
    ENTER_INIT("cuMemPrefetchAsync_v2");
    if (flags != 0)
        return E_INVALID_VALUE;
    return prefetch_common("cuMemPrefetchAsync_v2", p, n, location_of(loc), s);
}

CUresult cuMemPrefetchAsync(CUdeviceptr p, size_t n, CUdevice d, CUstream s)
{
    ENTER_INIT("cuMemPrefetchAsync");
    return prefetch_common("cuMemPrefetchAsync", p, n, location_of_device(d), s);
}

static CUresult advise_common(const char *name, uint64_t p, size_t n, int advice, int where)
{
    struct fctx *c;
    CUresult rc = current(&c);
    if (rc)
        return rc;
    if (advice < 1 || advice > 6)
        return E_INVALID_VALUE;
    /* SET_PREFERRED_LOCATION and (UN)SET_ACCESSED_BY need a valid location. */
    if ((advice == 3 || advice == 5 || advice == 6) && where == -2)
        return E_INVALID_DEVICE;
    pthread_mutex_lock(&g_lock);
    long i = find_live(p, n, 1u << K_MANAGED);
    if (i < 0) {
        hazard(C_BAD_POINTER, "%s: %#llx+%zu is not managed memory", name, (unsigned long long)p, n);
        rc = E_INVALID_VALUE;
    } else {
        if (advice % 2)
            g_recs[i].advice |= 1u << advice;
        else
            g_recs[i].advice &= ~(1u << (advice - 1));
        log_line("%s %#llx %zu bytes advice %d location %d", name, (unsigned long long)p, n, advice, where);
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuMemAdvise_v2(CUdeviceptr p, size_t n, int advice, CUmemLocation loc)
{
    ENTER_INIT("cuMemAdvise_v2");
    return advise_common("cuMemAdvise_v2", p, n, advice, location_of(loc));
}

CUresult cuMemAdvise(CUdeviceptr p, size_t n, int advice, CUdevice d)
{
    ENTER_INIT("cuMemAdvise");
    return advise_common("cuMemAdvise", p, n, advice, location_of_device(d));
}

/* ---- memory pools ---------------------------------------------------------------- */

static CUresult get_pool(const char *name, CUmemoryPool *out, CUdevice d)
{
    ENTER_INIT(name);
    if (!out)
        return E_INVALID_VALUE;
    if (!dev_ok(d))
        return E_INVALID_DEVICE;
    if (!cfg.pools)
        return E_NOT_SUPPORTED;
    *out = &g_pools[d];
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetMemPool(CUmemoryPool *out, CUdevice d) { return get_pool("cuDeviceGetMemPool", out, d); }
CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *out, CUdevice d)
{
    return get_pool("cuDeviceGetDefaultMemPool", out, d);
}

static int pool_valid(CUmemoryPool p)
{
    for (int i = 0; i < cfg.devices; i++)
        if (p == &g_pools[i])
            return 1;
    return 0;
}

CUresult cuMemPoolSetAttribute(CUmemoryPool pool, int attr, void *value)
{
    ENTER_INIT("cuMemPoolSetAttribute");
    if (!pool_valid(pool))
        return E_INVALID_HANDLE;
    if (!value)
        return E_INVALID_VALUE;
    CUresult rc = CUDA_SUCCESS;
    pthread_mutex_lock(&g_lock);
    switch (attr) {
    case 1: case 2: case 3: pool->reuse[attr - 1] = *(int *)value; break;
    case 4:
        memcpy(&pool->threshold, value, sizeof pool->threshold);
        log_line("memory pool of device %d: release threshold %llu", pool->dev,
                 (unsigned long long)pool->threshold);
        break;
    case 6: pool->reserved_high = 0; break; /* only 0 (reset) is allowed */
    case 8: pool->used_high = 0; break;
    default: rc = E_INVALID_VALUE; break;     /* read-only or unknown */
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

CUresult cuMemPoolGetAttribute(CUmemoryPool pool, int attr, void *value)
{
    ENTER_INIT("cuMemPoolGetAttribute");
    if (!pool_valid(pool))
        return E_INVALID_HANDLE;
    if (!value)
        return E_INVALID_VALUE;
    CUresult rc = CUDA_SUCCESS;
    uint64_t v = 0;
    pthread_mutex_lock(&g_lock);
    switch (attr) {
    case 1: case 2: case 3: *(int *)value = pool->reuse[attr - 1]; break;
    case 4: v = pool->threshold; break;
    case 5: v = pool->used + pool->cached; break;
    case 6: v = pool->reserved_high; break;
    case 7: v = pool->used; break;
    case 8: v = pool->used_high; break;
    default: rc = E_INVALID_VALUE; break;
    }
    pthread_mutex_unlock(&g_lock);
    if (rc == CUDA_SUCCESS && attr >= 4)
        memcpy(value, &v, sizeof v);
    return rc;
}

/* ---- everything else: loud NOT_SUPPORTED ------------------------------------------ */

static CUresult unsupported(const char *name)
{
    pthread_once(&g_once, configure);
    pthread_mutex_lock(&g_lock);
    g_counters[C_UNSUPPORTED]++;
    log_line("UNSUPPORTED %s", name);
    pthread_mutex_unlock(&g_lock);
    fprintf(stderr, "fake-cuda: %s is not simulated: returning CUDA_ERROR_NOT_SUPPORTED\n", name);
    return E_NOT_SUPPORTED;
}

/* Every other driver entry point cudarc knows, as a stub taking no
 * arguments: with the C calling convention the caller's arguments are
 * simply ignored. The list is generated from cudarc's bindings. */
#define FAKE_STUB(name)                                                                            \
    CUresult name(void);                                                                           \
    CUresult name(void) { return unsupported(#name); }
#include "fake_cuda_stubs.h"

/* ---- controls for the tests (only this fake has them) ------------------------------- */

long zc_fake_cuda_count(const char *name)
{
    pthread_once(&g_once, configure);
    long v = -1;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < C_COUNT; i++)
        if (strcmp(counter_names[i], name) == 0)
            v = g_counters[i];
    if (strcmp(name, "live_allocations") == 0) {
        v = 0;
        for (long i = 0; i < g_nrecs; i++)
            v += g_recs[i].live;
    }
    pthread_mutex_unlock(&g_lock);
    return v;
}

long zc_fake_cuda_calls(const char *fn)
{
    pthread_once(&g_once, configure);
    long v = 0;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < g_nfns; i++)
        if (strcmp(g_fns[i].name, fn) == 0)
            v = g_fns[i].calls;
    pthread_mutex_unlock(&g_lock);
    return v;
}

/* Make the `nth` next call of `fn` fail with `code`. */
void zc_fake_cuda_fail(const char *fn, long nth, int code)
{
    pthread_once(&g_once, configure);
    pthread_mutex_lock(&g_lock);
    struct fn_stat *s = fn_stat(fn);
    if (s) {
        s->fail_at = s->calls + nth;
        s->fail_code = code;
    }
    pthread_mutex_unlock(&g_lock);
}

/* Stop (1) or restart (0) every stream worker: queued work waits. */
void zc_fake_cuda_pause(int paused)
{
    pthread_mutex_lock(&g_lock);
    g_paused = paused;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
}

/* Copy the call log into buf (NUL-terminated); returns its full length. */
size_t zc_fake_cuda_log(char *buf, size_t cap)
{
    pthread_mutex_lock(&g_lock);
    size_t n = g_log_len;
    if (buf && cap) {
        size_t k = n < cap - 1 ? n : cap - 1;
        if (k)
            memcpy(buf, g_log, k);
        buf[k] = '\0';
    }
    pthread_mutex_unlock(&g_lock);
    return n;
}

/* At exit: the counters, for the parent test process. */
static void write_report(void)
{
    const char *path = getenv("FAKE_CUDA_REPORT");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < C_COUNT; i++)
        fprintf(f, "%s %ld\n", counter_names[i], g_counters[i]);
    long live = 0;
    for (long i = 0; i < g_nrecs; i++)
        live += g_recs[i].live;
    fprintf(f, "live_at_exit %ld\n", live);
    pthread_mutex_unlock(&g_lock);
    fclose(f);
}
