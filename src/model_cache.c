/*
 * model_cache.c - binary copies of models, for programs that load models
 * often: the cache of rpr_model_load_cached (one model per file) and the
 * bundle of rpr_model_bundle_open (several models in one mapped file, what
 * rpr-nx reads at every step).
 *
 * Cache: the model block (model.h) followed by a fixed-size trailer that
 * names the XML it came from (size, mtime, inode, device and a hash of its
 * text), the library and layout it was written by, and a hash of the
 * block.  One read() brings in block and trailer; the block is used in
 * place after model_layout().
 *
 * Bundle: see the section below; docs/newton-x.md (Speed) explains what
 * its checks detect and what not.
 *
 * This file refers to no libxml2 function: the XML parser is passed in
 * (by rpr_model_load_cached in model_xml.c, or as the bundle's loader), so
 * a program that only reads bundles links no XML code.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"
#include "model_cache.h"

/* ------------------------------------------------------------ reading files */

/* Read a whole regular file into a NUL-terminated buffer of *len bytes
 * (allocated with extra bytes at the end; aligned to MODEL_ALIGN). */
rpr_status model_cache_slurp(const char *path, char **text, size_t *len,
                             struct stat *st_out, rpr_error *err)
{
    struct stat st;
    char *buf = NULL;
    rpr_status status = RPR_OK;
    const int fd = open(path, O_RDONLY);

    *text = NULL;
    *len = 0;
    if (fd < 0)
        return RPR_FAIL(err, RPR_EIO, "%s: cannot open: %s", path,
                        strerror(errno));
    if (fstat(fd, &st) != 0) {
        status = RPR_FAIL(err, RPR_EIO, "%s: cannot stat: %s", path,
                          strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        status = RPR_FAIL(err, RPR_EIO, "%s: not a regular file", path);
        goto cleanup;
    }
    const size_t size = (size_t) st.st_size;
    if ((off_t) size != st.st_size || size > SIZE_MAX - 2 * MODEL_ALIGN) {
        status = RPR_FAIL(err, RPR_EIO, "%s: file too large", path);
        goto cleanup;
    }
    const size_t alloc =
        (size + 1 + MODEL_ALIGN - 1) / MODEL_ALIGN * MODEL_ALIGN;
    buf = aligned_alloc(MODEL_ALIGN, alloc);
    if (buf == NULL) {
        status = RPR_FAIL(err, RPR_ENOMEM, "%s: cannot allocate %zu bytes",
                          path, alloc);
        goto cleanup;
    }
    size_t got = 0;
    while (got < size) {
        const ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            status = RPR_FAIL(err, RPR_EIO, "%s: read error: %s", path,
                              r < 0 ? strerror(errno) : "file shrank");
            goto cleanup;
        }
        got += (size_t) r;
    }
    buf[size] = '\0';
    *text = buf;
    *len = size;
    buf = NULL;
    if (st_out != NULL)
        *st_out = st;
cleanup:
    free(buf);
    close(fd);
    return status;
}

/* ------------------------------------------------------------ cache */

/* Follows the model block in the cache file.  All fields fixed-width. */
typedef struct model_cache_trailer {
    char magic[8];          /* "RPRCACHE" */
    uint32_t cache_version; /* MODEL_CACHE_VERSION */
    uint32_t trailer_bytes; /* sizeof(model_cache_trailer) */
    uint64_t struct_bytes;  /* sizeof(rpr_model): layout of this build */
    uint64_t sub_bytes;     /* sizeof(model_sub) */
    char lib_version[32];   /* rpr_version() of the writer */
    uint64_t xml_size;      /* the XML file the block was made from */
    int64_t xml_mtime_sec, xml_mtime_nsec;
    uint64_t xml_ino, xml_dev;
    uint64_t xml_hash;     /* model_hash of the XML text */
    uint64_t block_bytes;  /* bytes of the model block before the trailer */
    uint64_t block_hash;   /* model_hash of the block */
    uint64_t trailer_hash; /* model_hash of the trailer up to this field */
} model_cache_trailer;

static void model_cache_fill(model_cache_trailer *t, const struct stat *xs,
                             uint64_t xml_hash, const rpr_model *m)
{
    memset(t, 0, sizeof *t);
    memcpy(t->magic, "RPRCACHE", 8);
    t->cache_version = MODEL_CACHE_VERSION;
    t->trailer_bytes = (uint32_t) sizeof *t;
    t->struct_bytes = sizeof(rpr_model);
    t->sub_bytes = sizeof(model_sub);
    snprintf(t->lib_version, sizeof t->lib_version, "%s", rpr_version());
    t->xml_size = (uint64_t) xs->st_size;
    t->xml_mtime_sec = (int64_t) xs->st_mtim.tv_sec;
    t->xml_mtime_nsec = (int64_t) xs->st_mtim.tv_nsec;
    t->xml_ino = (uint64_t) xs->st_ino;
    t->xml_dev = (uint64_t) xs->st_dev;
    t->xml_hash = xml_hash;
    t->block_bytes = m->bytes;
    t->block_hash = model_hash(MODEL_HASH_SEED, m, m->bytes);
    t->trailer_hash = model_hash(MODEL_HASH_SEED, t,
                                 offsetof(model_cache_trailer, trailer_hash));
}

/* Write block and trailer atomically (temporary file, rename). */
static rpr_status model_cache_write(const char *cache_path, const rpr_model *m,
                                    const struct stat *xs, uint64_t xml_hash,
                                    rpr_error *err)
{
    model_cache_trailer t;
    rpr_outfile *out = NULL;

    model_cache_fill(&t, xs, xml_hash, m);
    rpr_status st = rpr_outfile_open(cache_path, &out, err);
    if (st != RPR_OK)
        return st;
    FILE *const f = rpr_outfile_stream(out);
    /* The block's pointers are meaningless in a file; model_layout() sets
     * them again after reading.  Write them as stored: the block hash
     * covers exactly the bytes written. */
    if (fwrite(m, 1, m->bytes, f) != m->bytes ||
        fwrite(&t, sizeof t, 1, f) != 1) {
        rpr_outfile_discard(out);
        return RPR_FAIL(err, RPR_EIO, "%s: cannot write the cache", cache_path);
    }
    return rpr_outfile_commit(out, err);
}

/* Is the trailer from this build, consistent with the file size? */
static int model_cache_trailer_ok(const model_cache_trailer *t, size_t size)
{
    char ver[sizeof t->lib_version];
    snprintf(ver, sizeof ver, "%s", rpr_version());
    return memcmp(t->magic, "RPRCACHE", 8) == 0 &&
           t->cache_version == MODEL_CACHE_VERSION &&
           t->trailer_bytes == sizeof *t &&
           t->struct_bytes == sizeof(rpr_model) &&
           t->sub_bytes == sizeof(model_sub) &&
           strncmp(t->lib_version, ver, sizeof ver) == 0 &&
           t->trailer_hash ==
               model_hash(MODEL_HASH_SEED, t,
                          offsetof(model_cache_trailer, trailer_hash)) &&
           t->block_bytes == size - sizeof *t;
}

static int model_cache_same_file(const model_cache_trailer *t,
                                 const struct stat *xs)
{
    return t->xml_size == (uint64_t) xs->st_size &&
           t->xml_mtime_sec == (int64_t) xs->st_mtim.tv_sec &&
           t->xml_mtime_nsec == (int64_t) xs->st_mtim.tv_nsec &&
           t->xml_ino == (uint64_t) xs->st_ino &&
           t->xml_dev == (uint64_t) xs->st_dev;
}

/*
 * Try the cache: on success *model is the block (pointers laid out) and
 * *trailer its trailer; a missing, foreign or damaged cache is not an
 * error, just no model.  Only allocation failure is reported.
 */
static rpr_status model_cache_try(const char *cache_path, rpr_model **model,
                                  model_cache_trailer *trailer, rpr_error *err)
{
    char *buf = NULL;
    size_t size = 0;
    rpr_error local;

    *model = NULL;
    const rpr_status st =
        model_cache_slurp(cache_path, &buf, &size, NULL, &local);
    if (st == RPR_ENOMEM) {
        *err = local;
        return st;
    }
    if (st != RPR_OK)
        return RPR_OK;
    if (size < sizeof *trailer + sizeof(rpr_model))
        goto stale;
    memcpy(trailer, buf + size - sizeof *trailer, sizeof *trailer);
    if (!model_cache_trailer_ok(trailer, size))
        goto stale;
    rpr_model *const m = (rpr_model *) (void *) buf;
    model_shape shape;
    if (m->bytes != trailer->block_bytes || m->nsub > MODEL_MAX_SUB)
        goto stale;
    model_shape_of(m, &shape);
    if (model_block_size(&shape) != m->bytes ||
        model_hash(MODEL_HASH_SEED, m, m->bytes) != trailer->block_hash)
        goto stale;
    model_layout(m);
    if (model_bind(m, NULL) != RPR_OK)
        goto stale;
    *model = m;
    return RPR_OK;
stale:
    free(buf);
    return RPR_OK;
}

rpr_status model_cache_load(const char *xml_path, const char *cache_path,
                            model_cache_parse_fn parse, rpr_model **model,
                            rpr_error *err)
{
    char *text = NULL, *path_buf = NULL;
    size_t len = 0;
    struct stat xs;
    rpr_model *cached = NULL, *m = NULL;
    model_cache_trailer t;
    rpr_status st;

    if (model == NULL || xml_path == NULL || parse == NULL)
        return RPR_FAIL(err, RPR_EINVAL,
                        "rpr_model_load_cached: NULL argument");
    *model = NULL;
    if (cache_path == NULL) {
        const size_t n = strlen(xml_path);
        path_buf = malloc(n + sizeof ".cache");
        if (path_buf == NULL)
            return RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory", xml_path);
        memcpy(path_buf, xml_path, n);
        memcpy(path_buf + n, ".cache", sizeof ".cache");
        cache_path = path_buf;
    }
    if (stat(xml_path, &xs) != 0) {
        st = RPR_FAIL(err, RPR_EIO, "%s: cannot stat: %s", xml_path,
                      strerror(errno));
        goto cleanup;
    }
    st = model_cache_try(cache_path, &cached, &t, err);
    if (st != RPR_OK)
        goto cleanup;
    if (cached != NULL && model_cache_same_file(&t, &xs)) {
        *model = cached; /* the fast path: stat, one read, one hash */
        cached = NULL;
        goto cleanup;
    }
    st = model_cache_slurp(xml_path, &text, &len, &xs, err);
    if (st != RPR_OK)
        goto cleanup;
    const uint64_t xml_hash = model_hash(MODEL_HASH_SEED, text, len);
    if (cached != NULL && t.xml_hash == xml_hash && t.xml_size == len) {
        /* Same text under a new name, inode or time (copied, touched):
         * keep the parsed block, refresh the trailer. */
        m = cached;
        cached = NULL;
    } else {
        st = parse(xml_path, text, len, &m, err);
        if (st != RPR_OK)
            goto cleanup;
    }
    st = model_cache_write(cache_path, m, &xs, xml_hash, err);
    if (st != RPR_OK) {
        error_prefix(err, "model cache (use rpr_model_load to run without "
                          "one)");
        goto cleanup;
    }
    *model = m;
    m = NULL;
cleanup:
    rpr_model_free(cached);
    rpr_model_free(m);
    free(text);
    free(path_buf);
    return st;
}

/* ------------------------------------------------------------ bundle */

/*
 * A bundle file: a header, one entry per model, the model files' paths
 * (each NUL-terminated), then the model blocks, each at a multiple of
 * MODEL_ALIGN.  The header and entries ("meta") are hashed as a whole; each
 * block's fixed part (the struct rpr_model) and the whole block are hashed
 * when written, and opening checks the fixed parts only (docs/newton-x.md,
 * Speed: what this detects and what not).
 */
typedef struct model_bundle_header {
    char magic[8];          /* "RPRBUNDL" */
    uint32_t cache_version; /* MODEL_CACHE_VERSION */
    uint32_t header_bytes;  /* sizeof(model_bundle_header) */
    uint64_t entry_bytes;   /* sizeof(model_bundle_entry) */
    uint64_t struct_bytes;  /* sizeof(rpr_model): layout of this build */
    uint64_t sub_bytes;     /* sizeof(model_sub) */
    char lib_version[32];   /* rpr_version() of the writer */
    uint64_t nmodels;
    uint64_t meta_bytes; /* header, entries and paths, before the blocks */
    uint64_t file_bytes; /* the whole file */
    uint64_t meta_hash;  /* model_hash of the meta bytes, this field 0 */
} model_bundle_header;

typedef struct model_bundle_entry {
    uint64_t offset, bytes;         /* the model block in the file */
    uint64_t path_offset, path_len; /* the model file's path as given */
    uint64_t xml_size;              /* the model file it was made from */
    int64_t xml_mtime_sec, xml_mtime_nsec;
    uint64_t xml_ino, xml_dev;
    uint64_t head_hash;  /* model_hash of the block's struct rpr_model */
    uint64_t block_hash; /* model_hash of the whole block (written only) */
    /* Per sub-model: 0, or 1 + j * MODEL_MAX_SUB + l when its training
     * descriptors xt are bit for bit those of sub-model l of an earlier
     * model j, or of an earlier sub-model l of the same model (j = this
     * one).  Prediction then reads that copy: the same doubles, and less
     * memory to bring in: sub-models of one model (one per frame or
     * Kabsch reference) share the training geometries, and with an
     * invariant descriptor (RE) their descriptors; so do dipole and
     * polarizability models trained on the same geometries.  An energy
     * model's RE descriptors usually differ (its equilibrium geometry is
     * the lowest-energy one, the others' the first). */
    uint64_t xt_from[MODEL_MAX_SUB];
} model_bundle_entry;

struct rpr_model_bundle {
    size_t n;
    void *map; /* the mapped file, or NULL */
    size_t map_bytes;
    rpr_model **model; /* [n]: into map, or owned (map NULL) */
};

void rpr_model_bundle_free(rpr_model_bundle *b)
{
    if (b == NULL)
        return;
    if (b->map != NULL)
        munmap(b->map, b->map_bytes);
    else if (b->model != NULL)
        for (size_t i = 0; i < b->n; i++)
            rpr_model_free(b->model[i]);
    free(b->model);
    free(b);
}

size_t rpr_model_bundle_count(const rpr_model_bundle *b)
{
    return b != NULL ? b->n : 0;
}

const rpr_model *rpr_model_bundle_model(const rpr_model_bundle *b, size_t i)
{
    return b != NULL && i < b->n ? b->model[i] : NULL;
}

static void model_bundle_header_fill(model_bundle_header *h)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, "RPRBUNDL", 8);
    h->cache_version = MODEL_CACHE_VERSION;
    h->header_bytes = (uint32_t) sizeof *h;
    h->entry_bytes = sizeof(model_bundle_entry);
    h->struct_bytes = sizeof(rpr_model);
    h->sub_bytes = sizeof(model_sub);
    snprintf(h->lib_version, sizeof h->lib_version, "%s", rpr_version());
}

/* The hash of the meta bytes with the header's meta_hash taken as 0. */
static uint64_t model_bundle_meta_hash(const unsigned char *meta, size_t len)
{
    const size_t at = offsetof(model_bundle_header, meta_hash);
    const uint64_t zero = 0;
    uint64_t h = model_hash(MODEL_HASH_SEED, meta, at);
    h = model_hash(h, &zero, sizeof zero);
    return model_hash(h, meta + at + sizeof zero, len - at - sizeof zero);
}

static int model_bundle_same_file(const model_bundle_entry *e,
                                  const struct stat *xs)
{
    return e->xml_size == (uint64_t) xs->st_size &&
           e->xml_mtime_sec == (int64_t) xs->st_mtim.tv_sec &&
           e->xml_mtime_nsec == (int64_t) xs->st_mtim.tv_nsec &&
           e->xml_ino == (uint64_t) xs->st_ino &&
           e->xml_dev == (uint64_t) xs->st_dev;
}

/* Is the mapped file a bundle of these model files, from this build, for
 * files unchanged since?  Lays out and binds the models in place. */
static int model_bundle_check(unsigned char *map, size_t size, size_t n,
                              const char *const *xml_paths, rpr_model **model)
{
    model_bundle_header want, h;
    if (size < sizeof h)
        return 0;
    memcpy(&h, map, sizeof h);
    model_bundle_header_fill(&want);
    /* Everything before nmodels must be as this build writes it. */
    if (memcmp(&h, &want, offsetof(model_bundle_header, nmodels)) != 0 ||
        h.nmodels != n || h.file_bytes != size || h.meta_bytes > size ||
        h.meta_bytes < sizeof h + n * sizeof(model_bundle_entry) ||
        model_bundle_meta_hash(map, h.meta_bytes) != h.meta_hash)
        return 0;
    for (size_t i = 0; i < n; i++) {
        model_bundle_entry e;
        struct stat xs;
        memcpy(&e, map + sizeof h + i * sizeof e, sizeof e);
        const size_t plen = strlen(xml_paths[i]);
        if (e.path_len != plen || e.path_offset > h.meta_bytes ||
            h.meta_bytes - e.path_offset < plen + 1 ||
            memcmp(map + e.path_offset, xml_paths[i], plen + 1) != 0)
            return 0;
        if (e.offset % MODEL_ALIGN != 0 || e.offset < h.meta_bytes ||
            e.offset > size || size - e.offset < e.bytes ||
            e.bytes < sizeof(rpr_model))
            return 0;
        rpr_model *const m = (rpr_model *) (void *) (map + e.offset);
        if (model_hash(MODEL_HASH_SEED, m, sizeof *m) != e.head_hash ||
            m->bytes != e.bytes || m->nsub > MODEL_MAX_SUB)
            return 0;
        model_shape shape;
        model_shape_of(m, &shape);
        if (model_block_size(&shape) != m->bytes)
            return 0;
        if (stat(xml_paths[i], &xs) != 0 || !model_bundle_same_file(&e, &xs))
            return 0;
        model_layout(m);
        if (model_bind(m, NULL) != RPR_OK)
            return 0;
        for (size_t k = 0; k < MODEL_MAX_SUB; k++) {
            if (e.xt_from[k] == 0)
                continue;
            const uint64_t j = (e.xt_from[k] - 1) / MODEL_MAX_SUB;
            const uint64_t l = (e.xt_from[k] - 1) % MODEL_MAX_SUB;
            const rpr_model *const o = j == i ? m : model[j];
            if (k >= m->nsub || j > i || (j == i && l >= k) || l >= o->nsub ||
                o->D != m->D || o->ntrain != m->ntrain)
                return 0;
            m->sub[k].xt = o->sub[l].xt;
        }
        model[i] = m;
    }
    return 1;
}

/* Map the bundle file and check it: *ok tells whether it is usable (then
 * b holds the mapping).  Only allocation failure is an error. */
static rpr_status model_bundle_map(const char *path, size_t n,
                                   const char *const *xml_paths,
                                   rpr_model_bundle *b, int *ok)
{
    struct stat st;
    *ok = 0;
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return RPR_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t) st.st_size < sizeof(model_bundle_header) ||
        (uint64_t) st.st_size > SIZE_MAX) {
        close(fd);
        return RPR_OK;
    }
    const size_t size = (size_t) st.st_size;
    /* Private and writable: laying out a model writes its struct (one
     * page each, copied on write); the arrays stay pages of the page
     * cache, shared with every other process reading the file. */
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return errno == ENOMEM ? RPR_ENOMEM : RPR_OK;
    /* Pages are mapped as prediction first reads them, 16 per fault
     * (the kernel's fault-around); mapping all of them up front
     * (madvise MADV_POPULATE_READ) measured no faster. */
    if (!model_bundle_check(map, size, n, xml_paths, b->model)) {
        munmap(map, size);
        return RPR_OK;
    }
    b->map = map;
    b->map_bytes = size;
    *ok = 1;
    return RPR_OK;
}

/* Fill xt_from (model_bundle_entry) for model i of models[]. */
static void model_bundle_share(rpr_model *const *models, size_t i,
                               uint64_t *xt_from)
{
    const rpr_model *const m = models[i];
    const size_t len = m->D * m->ntrain * sizeof(double);
    for (size_t k = 0; k < m->nsub && k < MODEL_MAX_SUB; k++) {
        xt_from[k] = 0;
        for (size_t j = 0; j <= i && xt_from[k] == 0; j++) {
            const rpr_model *const o = models[j];
            if (o->D != m->D || o->ntrain != m->ntrain)
                continue;
            const size_t nl = j == i ? k : o->nsub; /* earlier ones only */
            for (size_t l = 0; l < nl && l < MODEL_MAX_SUB; l++)
                if (memcmp(o->sub[l].xt, m->sub[k].xt, len) == 0) {
                    xt_from[k] = 1 + j * MODEL_MAX_SUB + l;
                    break;
                }
        }
    }
}

/* Blocks start on a page boundary (when the page size is a multiple of
 * MODEL_ALIGN, as everywhere), so that laying out a model copies one page
 * (its struct) on write rather than two. */
static size_t model_bundle_align(size_t x)
{
    const long page = sysconf(_SC_PAGESIZE);
    const size_t a = page > 0 && (size_t) page % MODEL_ALIGN == 0
                         ? (size_t) page
                         : (size_t) MODEL_ALIGN;
    return (x + a - 1) / a * a;
}

/* Write n zero bytes. */
static int model_bundle_pad(FILE *f, size_t n)
{
    static const unsigned char zeros[512];
    while (n > 0) {
        const size_t k = n < sizeof zeros ? n : sizeof zeros;
        if (fwrite(zeros, 1, k, f) != k)
            return 0;
        n -= k;
    }
    return 1;
}

/* Write the bundle of the loaded models b->model, made from the files of
 * xs, atomically. */
static rpr_status model_bundle_write(const char *path, size_t n,
                                     const char *const *xml_paths,
                                     const struct stat *xs,
                                     const rpr_model_bundle *b, rpr_error *err)
{
    model_bundle_header h;
    model_bundle_entry *e = calloc(n, sizeof *e);
    unsigned char *meta = NULL;
    rpr_outfile *out = NULL;
    rpr_status st = RPR_OK;

    if (e == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory", path);
    model_bundle_header_fill(&h);
    h.nmodels = n;
    size_t at = sizeof h + n * sizeof *e;
    for (size_t i = 0; i < n; i++) {
        e[i].path_offset = at;
        e[i].path_len = strlen(xml_paths[i]);
        at += e[i].path_len + 1;
    }
    h.meta_bytes = at;
    at = model_bundle_align(at);
    for (size_t i = 0; i < n; i++) {
        const rpr_model *const m = b->model[i];
        e[i].offset = at;
        e[i].bytes = m->bytes;
        e[i].xml_size = (uint64_t) xs[i].st_size;
        e[i].xml_mtime_sec = (int64_t) xs[i].st_mtim.tv_sec;
        e[i].xml_mtime_nsec = (int64_t) xs[i].st_mtim.tv_nsec;
        e[i].xml_ino = (uint64_t) xs[i].st_ino;
        e[i].xml_dev = (uint64_t) xs[i].st_dev;
        e[i].head_hash = model_hash(MODEL_HASH_SEED, m, sizeof *m);
        e[i].block_hash = model_hash(MODEL_HASH_SEED, m, m->bytes);
        model_bundle_share(b->model, i, e[i].xt_from);
        at = model_bundle_align(at + m->bytes);
    }
    h.file_bytes = at;
    meta = calloc(1, h.meta_bytes);
    if (meta == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    memcpy(meta + sizeof h, e, n * sizeof *e);
    for (size_t i = 0; i < n; i++)
        memcpy(meta + e[i].path_offset, xml_paths[i], e[i].path_len + 1);
    memcpy(meta, &h, sizeof h);
    h.meta_hash = model_bundle_meta_hash(meta, h.meta_bytes);
    memcpy(meta, &h, sizeof h);

    st = rpr_outfile_open(path, &out, err);
    if (st != RPR_OK)
        goto cleanup;
    FILE *const f = rpr_outfile_stream(out);
    size_t written = h.meta_bytes;
    int ok = fwrite(meta, 1, h.meta_bytes, f) == h.meta_bytes;
    for (size_t i = 0; ok && i < n; i++) {
        /* The blocks' pointers are meaningless in a file: opening lays
         * them out again.  They are written as stored, and the hashes
         * cover exactly the bytes written. */
        ok = model_bundle_pad(f, e[i].offset - written) &&
             fwrite(b->model[i], 1, e[i].bytes, f) == e[i].bytes;
        written = e[i].offset + e[i].bytes;
    }
    ok = ok && model_bundle_pad(f, h.file_bytes - written);
    if (!ok) {
        rpr_outfile_discard(out);
        st = RPR_FAIL(err, RPR_EIO, "%s: cannot write the model bundle", path);
        goto cleanup;
    }
    st = rpr_outfile_commit(out, err);
cleanup:
    free(meta);
    free(e);
    return st;
}

static int model_bundle_same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && a->st_ino == b->st_ino &&
           a->st_dev == b->st_dev && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Load the model files with load, each between two equal stats (a file
 * replaced while it is read is read again, a few times at most). */
static rpr_status model_bundle_build(const char *path, size_t n,
                                     const char *const *xml_paths,
                                     rpr_model_loader load, rpr_model_bundle *b,
                                     rpr_error *err)
{
    enum { TRIES = 3 }; /* a file replaced this often while read: give up */
    struct stat *xs = calloc(n, sizeof *xs);
    if (xs == NULL)
        return RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory", path);
    rpr_status st = RPR_OK;
    for (size_t i = 0; i < n && st == RPR_OK; i++) {
        struct stat after;
        int same = 0;
        for (int t = 0; t < TRIES && st == RPR_OK && !same; t++) {
            rpr_model_free(b->model[i]);
            b->model[i] = NULL;
            if (stat(xml_paths[i], &xs[i]) != 0) {
                st = RPR_FAIL(err, RPR_EIO, "%s: cannot stat: %s", xml_paths[i],
                              strerror(errno));
                break;
            }
            st = load(xml_paths[i], &b->model[i], err);
            if (st == RPR_OK && b->model[i] == NULL)
                st = RPR_FAIL(err, RPR_EINVAL,
                              "%s: the loader returned no model", xml_paths[i]);
            if (st == RPR_OK && stat(xml_paths[i], &after) != 0)
                st = RPR_FAIL(err, RPR_EIO, "%s: cannot stat: %s", xml_paths[i],
                              strerror(errno));
            same = st == RPR_OK && model_bundle_same_stat(&xs[i], &after);
        }
        if (st == RPR_OK && !same)
            st =
                RPR_FAIL(err, RPR_EIO, "%s: changed while being read, %d times",
                         xml_paths[i], (int) TRIES);
    }
    /* A bundle that cannot be written costs speed, not results: the
     * models are returned all the same. */
    if (st == RPR_OK) {
        rpr_error local;
        (void) model_bundle_write(path, n, xml_paths, xs, b, &local);
    }
    free(xs);
    return st;
}

rpr_status rpr_model_bundle_open(const char *bundle_path, size_t n,
                                 const char *const *xml_paths,
                                 rpr_model_loader load,
                                 rpr_model_bundle **bundle, rpr_error *err)
{
    if (bundle == NULL)
        return RPR_FAIL(err, RPR_EINVAL, "rpr_model_bundle_open: NULL bundle");
    *bundle = NULL;
    if (bundle_path == NULL || xml_paths == NULL || n == 0)
        return RPR_FAIL(err, RPR_EINVAL,
                        "rpr_model_bundle_open: NULL path or no model");
    for (size_t i = 0; i < n; i++)
        if (xml_paths[i] == NULL)
            return RPR_FAIL(err, RPR_EINVAL,
                            "rpr_model_bundle_open: model path %zu is NULL", i);
    rpr_model_bundle *b = calloc(1, sizeof *b);
    rpr_status st = RPR_OK;
    if (b == NULL || (b->model = calloc(n, sizeof *b->model)) == NULL) {
        st = RPR_FAIL(err, RPR_ENOMEM, "%s: out of memory", bundle_path);
        goto cleanup;
    }
    b->n = n;
    int ok;
    st = model_bundle_map(bundle_path, n, xml_paths, b, &ok);
    if (st != RPR_OK) {
        st = RPR_FAIL(err, st, "%s: cannot map the model bundle", bundle_path);
        goto cleanup;
    }
    if (ok) {
        *bundle = b;
        b = NULL;
        goto cleanup;
    }
    memset(b->model, 0, n * sizeof *b->model);
    if (load == NULL)
        goto cleanup; /* stale: the caller decides */
    st = model_bundle_build(bundle_path, n, xml_paths, load, b, err);
    if (st == RPR_OK) {
        *bundle = b;
        b = NULL;
    }
cleanup:
    rpr_model_bundle_free(b);
    return st;
}
