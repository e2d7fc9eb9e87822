/*
 * A fake libxrt_coreutil for zc-npu's tests: the XRT C entry points that
 * zc-npu resolves, implemented over host memory, plus a few zc_fake_*
 * symbols (which only this fake has) through which tests read a per-device
 * call log, inject failures and play the NPU's side of a buffer object.
 *
 * Model: every xrtDeviceOpen returns a fresh device (indices 0 and 1 exist,
 * anything else fails with ENODEV), so tests running in parallel never see
 * each other's calls. Each BO has host memory (what xrtBOMap returns; the
 * caller's memory for a user-pointer BO) and a separate "device side";
 * xrtBOSync copies the synced range from one to the other, so a test can
 * see exactly which bytes a sync moved. Closed devices are kept (leaked) so
 * their log stays readable.
 *
 * Build flag: -DZC_FAKE_OMIT_SYNC leaves out xrtBOSync (for the
 * missing-symbol test).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAKE_DEVICES 2u
#define PAGE 4096u

struct fake_device;

struct fake_bo {
    struct fake_device *dev;
    unsigned id;
    size_t size;
    unsigned char *host;   /* what xrtBOMap returns */
    unsigned char *shadow; /* the "device side" */
    int user_ptr;
    int freed;
};

struct fake_device {
    unsigned index;
    int closed;
    unsigned next_bo;
    int64_t live_bos;
    pthread_mutex_t lock;
    char *log;
    size_t log_len, log_cap;
    char fail_call[32];
    int fail_code;
};

static void log_line(struct fake_device *d, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = (int)sizeof line - 1;
    if (d->log_len + (size_t)n + 2 > d->log_cap) {
        size_t cap = d->log_cap ? d->log_cap * 2 : 4096;
        while (cap < d->log_len + (size_t)n + 2)
            cap *= 2;
        char *p = realloc(d->log, cap);
        if (!p)
            return;
        d->log = p;
        d->log_cap = cap;
    }
    memcpy(d->log + d->log_len, line, (size_t)n);
    d->log_len += (size_t)n;
    d->log[d->log_len++] = '\n';
    d->log[d->log_len] = '\0';
}

/* Returns the injected code (and clears it) when `call` is set to fail. */
static int take_failure(struct fake_device *d, const char *call)
{
    if (d->fail_code != 0 && strcmp(d->fail_call, call) == 0) {
        int code = d->fail_code;
        d->fail_code = 0;
        d->fail_call[0] = '\0';
        return code;
    }
    return 0;
}

/* ---- the XRT C API ---------------------------------------------------- */

void *xrtDeviceOpen(unsigned int index)
{
    if (index >= FAKE_DEVICES) {
        errno = ENODEV;
        return NULL;
    }
    struct fake_device *d = calloc(1, sizeof *d);
    if (!d) {
        errno = ENOMEM;
        return NULL;
    }
    d->index = index;
    pthread_mutex_init(&d->lock, NULL);
    log_line(d, "open index=%u", index);
    return d;
}

int xrtDeviceClose(void *dhdl)
{
    struct fake_device *d = dhdl;
    if (!d)
        return EINVAL;
    pthread_mutex_lock(&d->lock);
    log_line(d, "close live=%lld", (long long)d->live_bos);
    d->closed = 1;
    pthread_mutex_unlock(&d->lock);
    return 0;
}

static void *alloc_common(struct fake_device *d, void *userptr, size_t size, uint64_t flags, uint32_t grp)
{
    const char *call = userptr ? "alloc_userptr" : "alloc";
    if (!d || d->closed) {
        errno = EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&d->lock);
    int code = take_failure(d, call);
    if (code) {
        log_line(d, "%s failed code=%d", call, code);
        pthread_mutex_unlock(&d->lock);
        errno = code;
        return NULL;
    }
    /* What the XDNA driver would refuse. */
    if (size == 0 || (flags & ((1u << 28) | (1u << 30))) ||
        (userptr && ((uintptr_t)userptr % PAGE) != 0)) {
        log_line(d, "%s rejected size=%zu flags=0x%llx", call, size, (unsigned long long)flags);
        pthread_mutex_unlock(&d->lock);
        errno = EINVAL;
        return NULL;
    }
    struct fake_bo *bo = calloc(1, sizeof *bo);
    unsigned char *shadow = bo ? calloc(1, size) : NULL;
    unsigned char *host = (unsigned char *)userptr;
    if (bo && shadow && !userptr) {
        size_t rounded = (size + PAGE - 1) / PAGE * PAGE;
        host = aligned_alloc(PAGE, rounded);
        if (host)
            memset(host, 0, rounded);
    }
    if (!bo || !shadow || !host) {
        free(shadow);
        free(bo);
        log_line(d, "%s failed code=%d size=%zu", call, ENOMEM, size);
        pthread_mutex_unlock(&d->lock);
        errno = ENOMEM;
        return NULL;
    }
    bo->dev = d;
    bo->id = ++d->next_bo;
    bo->size = size;
    bo->host = host;
    bo->shadow = shadow;
    bo->user_ptr = userptr != NULL;
    d->live_bos++;
    if (userptr)
        log_line(d, "alloc_userptr bo=%u ptr=0x%llx size=%zu flags=0x%llx group=%u", bo->id,
                 (unsigned long long)(uintptr_t)userptr, size, (unsigned long long)flags, grp);
    else
        log_line(d, "alloc bo=%u size=%zu flags=0x%llx group=%u", bo->id, size, (unsigned long long)flags, grp);
    pthread_mutex_unlock(&d->lock);
    return bo;
}

void *xrtBOAlloc(void *dhdl, size_t size, uint64_t flags, uint32_t grp)
{
    return alloc_common(dhdl, NULL, size, flags, grp);
}

void *xrtBOAllocUserPtr(void *dhdl, void *userptr, size_t size, uint64_t flags, uint32_t grp)
{
    if (!userptr) {
        errno = EINVAL;
        return NULL;
    }
    return alloc_common(dhdl, userptr, size, flags, grp);
}

void *xrtBOMap(void *bhdl)
{
    struct fake_bo *bo = bhdl;
    if (!bo || bo->freed) {
        errno = EINVAL;
        return NULL;
    }
    struct fake_device *d = bo->dev;
    pthread_mutex_lock(&d->lock);
    int code = take_failure(d, "map");
    if (code) {
        log_line(d, "map failed bo=%u code=%d", bo->id, code);
        pthread_mutex_unlock(&d->lock);
        errno = code;
        return NULL;
    }
    log_line(d, "map bo=%u", bo->id);
    pthread_mutex_unlock(&d->lock);
    return bo->host;
}

#ifndef ZC_FAKE_OMIT_SYNC
int xrtBOSync(void *bhdl, int dir, size_t size, size_t offset)
{
    struct fake_bo *bo = bhdl;
    if (!bo || bo->freed)
        return EINVAL;
    struct fake_device *d = bo->dev;
    pthread_mutex_lock(&d->lock);
    int code = take_failure(d, "sync");
    if (code) {
        log_line(d, "sync failed bo=%u code=%d", bo->id, code);
        pthread_mutex_unlock(&d->lock);
        return code;
    }
    if (offset > bo->size || size > bo->size - offset || (dir != 0 && dir != 1)) {
        log_line(d, "sync rejected bo=%u dir=%d size=%zu offset=%zu", bo->id, dir, size, offset);
        pthread_mutex_unlock(&d->lock);
        return EINVAL;
    }
    if (dir == 0)
        memcpy(bo->shadow + offset, bo->host + offset, size);
    else
        memcpy(bo->host + offset, bo->shadow + offset, size);
    log_line(d, "sync bo=%u dir=%s size=%zu offset=%zu", bo->id, dir == 0 ? "to_device" : "from_device", size,
             offset);
    pthread_mutex_unlock(&d->lock);
    return 0;
}
#endif

int xrtBOFree(void *bhdl)
{
    struct fake_bo *bo = bhdl;
    if (!bo)
        return EINVAL;
    struct fake_device *d = bo->dev;
    pthread_mutex_lock(&d->lock);
    if (bo->freed) {
        log_line(d, "double free bo=%u", bo->id);
        pthread_mutex_unlock(&d->lock);
        return EINVAL;
    }
    bo->freed = 1;
    d->live_bos--;
    log_line(d, "free bo=%u", bo->id);
    if (!bo->user_ptr)
        free(bo->host);
    free(bo->shadow);
    bo->host = NULL;
    bo->shadow = NULL;
    pthread_mutex_unlock(&d->lock);
    /* The fake_bo itself is kept so a double free is detected, not a crash. */
    return 0;
}

size_t xrtBOSize(void *bhdl)
{
    struct fake_bo *bo = bhdl;
    return bo ? bo->size : 0;
}

uint64_t xrtBOAddress(void *bhdl)
{
    struct fake_bo *bo = bhdl;
    return bo ? 0x100000000ull + (uint64_t)bo->id * 0x1000000ull : 0;
}

/* ---- fake-only controls ------------------------------------------------ */

/* Copy the device's call log (NUL-terminated, truncated to cap) into buf;
 * returns the full log length. */
size_t zc_fake_log(void *dhdl, char *buf, size_t cap)
{
    struct fake_device *d = dhdl;
    pthread_mutex_lock(&d->lock);
    size_t len = d->log_len;
    if (buf && cap) {
        size_t n = len < cap - 1 ? len : cap - 1;
        if (n)
            memcpy(buf, d->log, n);
        buf[n] = '\0';
    }
    pthread_mutex_unlock(&d->lock);
    return len;
}

/* Make the next `call` ("alloc", "alloc_userptr", "map", "sync") on this
 * device fail with `code`. */
void zc_fake_fail_next(void *dhdl, const char *call, int code)
{
    struct fake_device *d = dhdl;
    pthread_mutex_lock(&d->lock);
    snprintf(d->fail_call, sizeof d->fail_call, "%s", call);
    d->fail_code = code;
    pthread_mutex_unlock(&d->lock);
}

/* Buffer objects allocated and not yet freed on this device. */
int64_t zc_fake_live_bos(void *dhdl)
{
    struct fake_device *d = dhdl;
    pthread_mutex_lock(&d->lock);
    int64_t n = d->live_bos;
    pthread_mutex_unlock(&d->lock);
    return n;
}

/* Play the NPU: write / read the device side of a BO. 0 on success. */
int zc_fake_device_write(void *bhdl, size_t offset, const void *src, size_t size)
{
    struct fake_bo *bo = bhdl;
    if (!bo || bo->freed || offset > bo->size || size > bo->size - offset)
        return EINVAL;
    memcpy(bo->shadow + offset, src, size);
    return 0;
}

int zc_fake_device_read(void *bhdl, size_t offset, void *dst, size_t size)
{
    struct fake_bo *bo = bhdl;
    if (!bo || bo->freed || offset > bo->size || size > bo->size - offset)
        return EINVAL;
    memcpy(dst, bo->shadow + offset, size);
    return 0;
}
