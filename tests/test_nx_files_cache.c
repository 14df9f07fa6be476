/*
 * test_nx_files_cache.c - the model bundle rpr-nx reads at every step
 * (rpr_model_bundle_open, src/model_cache.c).
 *
 * Three small models (energy, dipole, polarizability) trained on random
 * geometries of a 5-atom molecule are saved as XML and opened through a
 * bundle.  Checks: a bundle built by the loader and one mapped from the
 * file predict bit for bit what the XML models predict (same doubles, same
 * object code: no tolerance); every way a bundle goes stale or is damaged
 * (a touched or replaced model file, other paths, another order or count,
 * truncation, a damaged header, entry or model struct, a foreign file)
 * makes it unusable, and the loader then rebuilds it; what is documented
 * as not detected (a changed byte inside a model array) is shown to be
 * so; the polarizability model reads the dipole model's training
 * descriptors (shared, recorded in its entry) and still predicts bit for
 * bit; every error path (NULL arguments, a loader that fails, returns no
 * model or reads a file that keeps changing, an unwritable bundle) gives
 * the documented result; a model with the relabelling blend (rpr train
 * --relabel) in a bundle predicts bit for bit as its XML model.  Not
 * provoked: allocation failure.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rpr.h"
#include "testutil.h"

enum { NATOMS = 5, NTRAIN = 24, NMODEL = 3 };

static const int numbers[NATOMS] = {6, 17, 1, 1, 8};
static char dir[] = "test_nx_files_cache.XXXXXX";

static void die(const char *what, const rpr_error *err)
{
    fprintf(stderr, "test_nx_files_cache: %s: %s\n", what,
            err != NULL ? err->message : strerror(errno));
    exit(99);
}

static const char *tmp_path(const char *name)
{
    return test_path(dir, name);
}

/* A non-planar molecule, each atom moved by up to 0.15 bohr. */
static void geometry(test_rng *rng, double *xyz)
{
    static const double base[3 * NATOMS] = {0.0,  0.0,  0.0,  2.9,  0.3,
                                            0.2,  -0.7, 1.8,  0.4,  -0.6,
                                            -0.9, 1.6,  -0.8, -1.1, -1.7};
    for (size_t i = 0; i < 3 * NATOMS; i++)
        xyz[i] = base[i] + 0.3 * (test_rng_uniform(rng) - 0.5);
}

/* Smooth labels: sums over pairs of the distance and the pair vector. */
static void labels(const double *xyz, double *e, double *mu, double *alpha)
{
    *e = 0;
    memset(mu, 0, 3 * sizeof *mu);
    memset(alpha, 0, 6 * sizeof *alpha);
    for (size_t a = 0; a < NATOMS; a++)
        for (size_t b = a + 1; b < NATOMS; b++) {
            double u[3], r2 = 0;
            for (int k = 0; k < 3; k++) {
                u[k] = xyz[3 * b + k] - xyz[3 * a + k];
                r2 += u[k] * u[k];
            }
            const double r = sqrt(r2);
            *e += exp(-r);
            for (int k = 0; k < 3; k++)
                mu[k] += (double) (a + 1) * 0.05 * u[k] / r;
            static const int ij[6][2] = {{0, 0}, {0, 1}, {0, 2},
                                         {1, 1}, {1, 2}, {2, 2}};
            for (int c = 0; c < 6; c++)
                alpha[c] += (c == 0 || c == 3 || c == 5 ? 3.0 : 0.0) +
                            u[ij[c][0]] * u[ij[c][1]] / r2;
        }
}

static void train_and_save(void)
{
    test_rng rng = {0x5eedb0d1e};
    static double xyz[NTRAIN * 3 * NATOMS];
    double e[NTRAIN], mu[3 * NTRAIN], alpha[6 * NTRAIN];
    rpr_geoms *g = NULL;
    rpr_error err;
    for (size_t i = 0; i < NTRAIN; i++) {
        geometry(&rng, xyz + 3 * NATOMS * i);
        labels(xyz + 3 * NATOMS * i, &e[i], mu + 3 * i, alpha + 6 * i);
    }
    if (rpr_geoms_new(NATOMS, NTRAIN, numbers, xyz, NULL, &g, &err) != RPR_OK)
        die("rpr_geoms_new", &err);
    static const rpr_property props[NMODEL] = {
        RPR_PROPERTY_ENERGY, RPR_PROPERTY_DIPOLE, RPR_PROPERTY_POLARIZABILITY};
    static const char *const names[NMODEL] = {"energy.xml", "dipole.xml",
                                              "polarizability.xml"};
    const double *values[NMODEL] = {e, mu, alpha};
    for (size_t k = 0; k < NMODEL; k++) {
        rpr_train_options opt;
        rpr_model *m = NULL;
        rpr_train_options_default(&opt);
        opt.property = props[k];
        /* Dipole and polarizability blend the principal and Kabsch
         * frames: two sub-models or more each, on the same (RE,
         * invariant) descriptors of the same geometries. */
        if (props[k] != RPR_PROPERTY_ENERGY)
            opt.frame = RPR_FRAME_BLEND;
        opt.sigma = 0.5;
        opt.lambda = 1e-6;
        if (rpr_train(&opt, g, values[k], NULL, NULL, &m, &err) != RPR_OK)
            die("rpr_train", &err);
        if (rpr_model_save(m, tmp_path(names[k]), &err) != RPR_OK)
            die("rpr_model_save", &err);
        rpr_model_free(m);
    }
    rpr_geoms_free(g);
}

/* Prediction of model m at the test geometry: value (up to 6) and, for
 * the energy, the gradient. */
typedef struct result {
    double v[6], g[3 * NATOMS];
} result;

static void predict(const rpr_model *m, const double *xyz, result *r)
{
    rpr_error err;
    memset(r, 0, sizeof *r);
    rpr_workspace *ws = rpr_workspace_new(m);
    if (ws == NULL)
        die("rpr_workspace_new", NULL);
    const int energy = rpr_model_property(m) == RPR_PROPERTY_ENERGY;
    CHECK_OK(rpr_predict(m, ws, NATOMS, numbers, xyz, r->v,
                         energy ? r->g : NULL, NULL, &err),
             &err);
    rpr_workspace_free(ws);
}

static char path_buf[NMODEL][256];
static const char *paths[NMODEL];
static result want[NMODEL];
static double xyz_test[3 * NATOMS];

/* Every model of b predicts bit for bit what the XML model does. */
static int same_as_xml(const rpr_model_bundle *b)
{
    int ok = b != NULL && rpr_model_bundle_count(b) == NMODEL;
    for (size_t k = 0; ok && k < NMODEL; k++) {
        const rpr_model *m = rpr_model_bundle_model(b, k);
        result r;
        ok = m != NULL;
        if (ok) {
            predict(m, xyz_test, &r);
            ok = memcmp(&r, &want[k], sizeof r) == 0;
        }
    }
    return ok;
}

/* Open with no loader: 1 if usable (and correct), 0 if stale. */
static int usable(const char *bundle_path)
{
    rpr_model_bundle *b = NULL;
    rpr_error err;
    CHECK_OK(rpr_model_bundle_open(bundle_path, NMODEL, paths, NULL, &b, &err),
             &err);
    const int ok = b != NULL;
    if (ok)
        CHECK(same_as_xml(b));
    rpr_model_bundle_free(b);
    return ok;
}

/* Rebuild with the loader; the bundle must then be usable again. */
static void rebuild(const char *bundle_path)
{
    rpr_model_bundle *b = NULL;
    rpr_error err;
    CHECK_OK(rpr_model_bundle_open(bundle_path, NMODEL, paths, rpr_model_load,
                                   &b, &err),
             &err);
    CHECK(same_as_xml(b));
    rpr_model_bundle_free(b);
    CHECK(usable(bundle_path));
}

static size_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (size_t) st.st_size : 0;
}

/* Change n bytes at offset of a file in place: XOR with 0x5a. */
static void damage(const char *path, size_t offset, size_t n)
{
    const int fd = open(path, O_RDWR);
    if (fd < 0)
        die(path, NULL);
    for (size_t i = 0; i < n; i++) {
        unsigned char c;
        if (pread(fd, &c, 1, (off_t) (offset + i)) != 1)
            die(path, NULL);
        c ^= 0x5a;
        if (pwrite(fd, &c, 1, (off_t) (offset + i)) != 1)
            die(path, NULL);
    }
    close(fd);
}

static void copy_file(const char *from, const char *to, size_t max)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    if (in == NULL || out == NULL)
        die(from, NULL);
    int c;
    size_t n = 0;
    while (n < max && (c = getc(in)) != EOF) {
        putc(c, out);
        n++;
    }
    fclose(in);
    if (fclose(out) != 0)
        die(to, NULL);
}

/* ------------------------------------------------------------ loaders */

static rpr_status load_none(const char *path, rpr_model **model, rpr_error *err)
{
    (void) path, (void) err;
    *model = NULL;
    return RPR_OK;
}

/* Loads, then changes the file's mtime: the file never holds still. */
static int touched;
static rpr_status load_touching(const char *path, rpr_model **model,
                                rpr_error *err)
{
    const rpr_status st = rpr_model_load(path, model, err);
    const struct timespec t[2] = {{0, UTIME_OMIT},
                                  {1000000 + touched++, 12345}};
    if (utimensat(AT_FDCWD, path, t, 0) != 0)
        die("utimensat", NULL);
    return st;
}

/* ------------------------------------------------------------ tests */

static void test_build_and_map(const char *bp)
{
    rpr_model_bundle *b = NULL;
    rpr_error err;
    /* No bundle yet and no loader: nothing, and no error. */
    CHECK_OK(rpr_model_bundle_open(bp, NMODEL, paths, NULL, &b, &err), &err);
    CHECK(b == NULL);
    /* Built by the loader, then mapped: both as the XML models. */
    rebuild(bp);
    CHECK(file_size(bp) > 0);
    CHECK_OK(rpr_model_bundle_open(bp, NMODEL, paths, NULL, &b, &err), &err);
    CHECK(rpr_model_bundle_count(b) == NMODEL);
    CHECK(rpr_model_bundle_model(b, NMODEL) == NULL);
    CHECK(rpr_model_property(rpr_model_bundle_model(b, 1)) ==
          RPR_PROPERTY_DIPOLE);
    /* Replacing the file by rename (as a rebuild does) leaves an open
     * bundle working: it maps the old file. */
    rpr_model_bundle *b2 = NULL;
    copy_file(bp, tmp_path("copy"), SIZE_MAX);
    if (rename(tmp_path("copy"), bp) != 0)
        die("rename", NULL);
    CHECK_OK(rpr_model_bundle_open(bp, NMODEL, paths, NULL, &b2, &err), &err);
    CHECK(same_as_xml(b));
    CHECK(same_as_xml(b2));
    rpr_model_bundle_free(b2);
    rpr_model_bundle_free(b);
    CHECK(rpr_model_bundle_count(NULL) == 0);
    CHECK(rpr_model_bundle_model(NULL, 0) == NULL);
    rpr_model_bundle_free(NULL);
}

static void test_stale(const char *bp)
{
    /* The same file under another path, other order, fewer models. */
    {
        rpr_model_bundle *b = NULL;
        rpr_error err;
        char other[256];
        snprintf(other, sizeof other, "%s/../%s/energy.xml", dir, dir);
        const char *p2[NMODEL] = {other, paths[1], paths[2]};
        CHECK_OK(rpr_model_bundle_open(bp, NMODEL, p2, NULL, &b, &err), &err);
        CHECK(b == NULL);
        const char *p3[NMODEL] = {paths[1], paths[0], paths[2]};
        CHECK_OK(rpr_model_bundle_open(bp, NMODEL, p3, NULL, &b, &err), &err);
        CHECK(b == NULL);
        CHECK_OK(rpr_model_bundle_open(bp, 2, paths, NULL, &b, &err), &err);
        CHECK(b == NULL);
        CHECK(usable(bp));
    }
    /* A touched model file (mtime ns only): stale. */
    {
        struct stat st;
        if (stat(paths[2], &st) != 0)
            die(paths[2], NULL);
        struct timespec t[2] = {st.st_atim, st.st_mtim};
        t[1].tv_nsec = (t[1].tv_nsec + 1) % 1000000000L;
        if (utimensat(AT_FDCWD, paths[2], t, 0) != 0)
            die("utimensat", NULL);
        CHECK(!usable(bp));
        rebuild(bp);
    }
    /* A model file gone: stale; back under its name (the same inode,
     * size and mtime): usable again, no rebuild needed. */
    {
        if (rename(paths[0], tmp_path("away.xml")) != 0)
            die("rename", NULL);
        CHECK(!usable(bp));
        if (rename(tmp_path("away.xml"), paths[0]) != 0)
            die("rename", NULL);
        CHECK(usable(bp));
    }
    /* A model file replaced by a copy (another inode): stale. */
    {
        copy_file(paths[1], tmp_path("dipole.copy"), SIZE_MAX);
        if (rename(tmp_path("dipole.copy"), paths[1]) != 0)
            die("rename", NULL);
        CHECK(!usable(bp));
        rebuild(bp);
    }
    /* A truncated bundle, by one byte and to a header's length. */
    {
        const size_t n = file_size(bp);
        copy_file(bp, tmp_path("good"), SIZE_MAX);
        copy_file(tmp_path("good"), bp, n - 1);
        CHECK(!usable(bp));
        copy_file(tmp_path("good"), bp, 64);
        CHECK(!usable(bp));
        copy_file(tmp_path("good"), bp, 0);
        CHECK(!usable(bp));
        rebuild(bp);
        CHECK(file_size(bp) == n);
    }
    /* A foreign file: the XML itself, a directory. */
    {
        copy_file(paths[0], bp, SIZE_MAX);
        CHECK(!usable(bp));
        rebuild(bp);
        rpr_model_bundle *b = NULL;
        rpr_error err;
        CHECK_OK(rpr_model_bundle_open(dir, NMODEL, paths, NULL, &b, &err),
                 &err);
        CHECK(b == NULL);
    }
}

/* Damage at each of a few offsets: the header (magic, version, library
 * version, counts), the first entry, the path strings, and the struct of
 * each model are all detected; a byte inside a model's arrays is not (the
 * documented trade-off), and the bundle then opens. */
static void test_damage(const char *bp)
{
    copy_file(bp, tmp_path("good"), SIZE_MAX);
    /* Header (104 bytes): magic 0, cache version 8, sizes 12..40, library
     * version 40..72, counts 72..96, hash 96; entries from 104 (offset,
     * size, path, file identity, hashes, shared descriptors), then the
     * paths: all covered by the header's hash. */
    static const size_t at[] = {0,  8,  12, 16, 24,  32,  40,  60,
                                72, 80, 88, 96, 104, 112, 150, 370};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        damage(bp, at[i], 1);
        if (usable(bp)) {
            fprintf(stderr, "damage at byte %zu not detected\n", at[i]);
            CHECK(0);
        }
        copy_file(tmp_path("good"), bp, SIZE_MAX);
    }
    CHECK(usable(bp));
    /* Each model block (the first field of entry k, entry_bytes each after
     * the 104-byte header, is its offset): a damaged byte of its struct
     * is detected. */
    const size_t n = file_size(bp);
    FILE *f = fopen(bp, "rb");
    unsigned char *buf = malloc(n);
    if (f == NULL || buf == NULL || fread(buf, 1, n, f) != n)
        die(bp, NULL);
    fclose(f);
    uint64_t offset[NMODEL], bytes[NMODEL], entry_bytes;
    memcpy(&entry_bytes, buf + 16, 8);
    /* 11 fields, then xt_from[MODEL_MAX_SUB]. */
    CHECK(entry_bytes > 88 && (entry_bytes - 88) % 8 == 0 &&
          104 + NMODEL * entry_bytes < n);
    if (!(entry_bytes > 88 && 104 + NMODEL * entry_bytes < n)) {
        free(buf);
        return;
    }
    /* The polarizability model shares the dipole model's training
     * descriptors (same geometries, same RE descriptor): its first two
     * sub-models read them from model 1, sub-model 0. */
    const uint64_t max_sub = (entry_bytes - 88) / 8;
    uint64_t from;
    memcpy(&from, buf + 104 + 2 * entry_bytes + 88, 8);
    CHECK(from == 1 + 1 * max_sub + 0);
    memcpy(&from, buf + 104 + 2 * entry_bytes + 88 + 8, 8);
    CHECK(from == 1 + 1 * max_sub + 0);
    memcpy(&from, buf + 104 + 0 * entry_bytes + 88, 8);
    CHECK(from == 0); /* the first model has nothing earlier to share */
    /* The dipole model's further sub-models (Kabsch after principal,
     * one per Kabsch reference) read its first one's: RE is invariant. */
    for (uint64_t k = 1; k < max_sub; k++) {
        memcpy(&from, buf + 104 + 1 * entry_bytes + 88 + 8 * k, 8);
        if (k == 1)
            CHECK(from == 1 + 1 * max_sub + 0);
        else
            CHECK(from == 0 || from == 1 + 1 * max_sub + 0);
    }
    for (size_t k = 0; k < NMODEL; k++) {
        memcpy(&offset[k], buf + 104 + entry_bytes * k, 8);
        memcpy(&bytes[k], buf + 104 + entry_bytes * k + 8, 8);
        CHECK(offset[k] % 64 == 0 && offset[k] + bytes[k] <= n);
        if (!(offset[k] + bytes[k] <= n))
            break;
        uint64_t stored;
        memcpy(&stored, buf + offset[k], 8); /* the block's own size */
        CHECK(stored == bytes[k]);
        damage(bp, (size_t) offset[k] + sizeof(size_t), 1);
        CHECK(!usable(bp));
        copy_file(tmp_path("good"), bp, SIZE_MAX);
        /* Byte 80 of the struct (in its first 200 bytes, which hold sizes
         * and names), which no size depends on: the struct's hash. */
        damage(bp, (size_t) offset[k] + 80, 1);
        CHECK(!usable(bp));
        copy_file(tmp_path("good"), bp, SIZE_MAX);
    }
    /* The last 8 bytes of the first model block, in its arena: not
     * detected (documented); the bundle opens. */
    if (offset[0] + bytes[0] <= n) {
        damage(bp, (size_t) (offset[0] + bytes[0] - 8), 8);
        rpr_model_bundle *b = NULL;
        rpr_error err;
        CHECK_OK(rpr_model_bundle_open(bp, NMODEL, paths, NULL, &b, &err),
                 &err);
        CHECK(b != NULL);
        rpr_model_bundle_free(b);
        copy_file(tmp_path("good"), bp, SIZE_MAX);
    }
    free(buf);
    CHECK(usable(bp));
}

static void test_errors(const char *bp)
{
    rpr_model_bundle *b = NULL;
    rpr_error err;
    const char *nulls[NMODEL] = {paths[0], NULL, paths[2]};
    CHECK_STATUS(rpr_model_bundle_open(bp, NMODEL, paths, NULL, NULL, &err),
                 RPR_EINVAL);
    b = (rpr_model_bundle *) &b; /* must be set to NULL on failure */
    CHECK_STATUS(rpr_model_bundle_open(NULL, NMODEL, paths, NULL, &b, &err),
                 RPR_EINVAL);
    CHECK(b == NULL);
    CHECK_STATUS(rpr_model_bundle_open(bp, 0, paths, NULL, &b, &err),
                 RPR_EINVAL);
    CHECK_STATUS(rpr_model_bundle_open(bp, NMODEL, NULL, NULL, &b, &err),
                 RPR_EINVAL);
    CHECK_STATUS(rpr_model_bundle_open(bp, NMODEL, nulls, NULL, &b, &err),
                 RPR_EINVAL);
    CHECK(strstr(err.message, "model path 1") != NULL);
    /* A missing model file: the loader's error, naming the file. */
    const char *missing[NMODEL] = {paths[0], tmp_path("missing.xml"), paths[2]};
    static char bp2[256];
    snprintf(bp2, sizeof bp2, "%s", tmp_path("other.cache"));
    CHECK_STATUS(
        rpr_model_bundle_open(bp2, NMODEL, missing, rpr_model_load, &b, &err),
        RPR_EIO);
    CHECK(b == NULL);
    CHECK(strstr(err.message, "missing.xml") != NULL);
    CHECK(file_size(bp2) == 0);
    /* A malformed model file: the parser's error. */
    copy_file(paths[0], tmp_path("broken.xml"), 300);
    const char *broken[1] = {tmp_path("broken.xml")};
    CHECK_STATUS(
        rpr_model_bundle_open(bp2, 1, broken, rpr_model_load, &b, &err),
        RPR_EPARSE);
    CHECK(strstr(err.message, "broken.xml") != NULL);
    /* A loader that returns no model. */
    CHECK_STATUS(rpr_model_bundle_open(bp2, NMODEL, paths, load_none, &b, &err),
                 RPR_EINVAL);
    CHECK(strstr(err.message, "no model") != NULL);
    /* A file that changes every time it is read: given up, RPR_EIO. */
    CHECK_STATUS(
        rpr_model_bundle_open(bp2, NMODEL, paths, load_touching, &b, &err),
        RPR_EIO);
    CHECK(strstr(err.message, "changed while being read") != NULL);
    CHECK(b == NULL);
    CHECK(file_size(bp2) == 0);
    /* A bundle that cannot be written: the models all the same. */
    const char *bp3 = tmp_path("no/such/dir/rpr-nx.cache");
    CHECK_OK(
        rpr_model_bundle_open(bp3, NMODEL, paths, rpr_model_load, &b, &err),
        &err);
    CHECK(same_as_xml(b));
    rpr_model_bundle_free(b);
    /* The same file twice is allowed (two states with one model). */
    const char *twice[2] = {paths[0], paths[0]};
    CHECK_OK(rpr_model_bundle_open(bp2, 2, twice, rpr_model_load, &b, &err),
             &err);
    CHECK(b != NULL && rpr_model_bundle_count(b) == 2);
    rpr_model_bundle_free(b);
    CHECK_OK(rpr_model_bundle_open(bp2, 2, twice, NULL, &b, &err), &err);
    CHECK(b != NULL);
    if (b != NULL) {
        result r0, r1;
        predict(rpr_model_bundle_model(b, 0), xyz_test, &r0);
        predict(rpr_model_bundle_model(b, 1), xyz_test, &r1);
        CHECK(memcmp(&r0, &want[0], sizeof r0) == 0);
        CHECK(memcmp(&r1, &want[0], sizeof r1) == 0);
    }
    rpr_model_bundle_free(b);
}

/* A dipole model with the relabelling blend (rpr train --relabel "3-4",
 * the two hydrogens) next to the energy model in a bundle: built by the
 * loader and mapped, it predicts bit for bit what its XML model does,
 * with the same blend weight, at a geometry and at its relabelling. */
static void test_relabel(void)
{
    test_rng rng = {0x5eedb0d1e}; /* train_and_save's geometries */
    static double xyz[NTRAIN * 3 * NATOMS];
    double e[NTRAIN], mu[3 * NTRAIN], alpha[6 * NTRAIN];
    rpr_geoms *g = NULL;
    rpr_model *m = NULL;
    rpr_error err;
    rpr_train_options opt;
    for (size_t i = 0; i < NTRAIN; i++) {
        geometry(&rng, xyz + 3 * NATOMS * i);
        labels(xyz + 3 * NATOMS * i, &e[i], mu + 3 * i, alpha + 6 * i);
    }
    if (rpr_geoms_new(NATOMS, NTRAIN, numbers, xyz, NULL, &g, &err) != RPR_OK)
        die("rpr_geoms_new", &err);
    rpr_train_options_default(&opt);
    opt.property = RPR_PROPERTY_DIPOLE;
    opt.sigma = 0.5;
    opt.lambda = 1e-6;
    opt.relabel = "3-4";
    static char rp[256], bp[256];
    snprintf(rp, sizeof rp, "%s", tmp_path("relabel.xml"));
    snprintf(bp, sizeof bp, "%s", tmp_path("relabel.bundle"));
    if (rpr_train(&opt, g, mu, NULL, NULL, &m, &err) != RPR_OK ||
        rpr_model_save(m, rp, &err) != RPR_OK)
        die("relabel model", &err);
    rpr_model_free(m);
    rpr_geoms_free(g);
    m = NULL;
    if (rpr_model_load(rp, &m, &err) != RPR_OK)
        die("rpr_model_load", &err);
    double x[2][3 * NATOMS];
    memcpy(x[0], xyz_test, sizeof x[0]);
    memcpy(x[1], xyz_test, sizeof x[1]);
    memcpy(x[1] + 6, xyz_test + 9, 3 * sizeof(double)); /* swap 3 and 4 */
    memcpy(x[1] + 9, xyz_test + 6, 3 * sizeof(double));
    const char *const bpaths[2] = {paths[0], rp};
    for (int mapped = 0; mapped < 2; mapped++) {
        rpr_model_bundle *b = NULL;
        CHECK_OK(rpr_model_bundle_open(
                     bp, 2, bpaths, mapped ? NULL : rpr_model_load, &b, &err),
                 &err);
        const rpr_model *bm = rpr_model_bundle_model(b, 1);
        CHECK(bm != NULL);
        if (bm == NULL) {
            rpr_model_bundle_free(b);
            continue;
        }
        CHECK(strcmp(rpr_model_relabel(bm, NULL, NULL), "3-4") == 0);
        rpr_workspace *w1 = rpr_workspace_new(m), *w2 = rpr_workspace_new(bm);
        double v[2][2][3];
        for (int k = 0; k < 2; k++) {
            rpr_frame_health h1, h2;
            CHECK_OK(rpr_predict(m, w1, NATOMS, numbers, x[k], v[0][k], NULL,
                                 &h1, &err),
                     &err);
            CHECK_OK(rpr_predict(bm, w2, NATOMS, numbers, x[k], v[1][k], NULL,
                                 &h2, &err),
                     &err);
            CHECK(memcmp(v[0][k], v[1][k], sizeof v[0][k]) == 0);
            CHECK(h1.relabel_weight == h2.relabel_weight);
        }
        /* The blend is exactly invariant under the relabelling. */
        CHECK(memcmp(v[1][0], v[1][1], sizeof v[1][0]) == 0);
        rpr_workspace_free(w1);
        rpr_workspace_free(w2);
        rpr_model_bundle_free(b);
    }
    rpr_model_free(m);
}

int main(void)
{
    if (mkdtemp(dir) == NULL)
        die("mkdtemp", NULL);
    train_and_save();
    static const char *const names[NMODEL] = {"energy.xml", "dipole.xml",
                                              "polarizability.xml"};
    for (size_t k = 0; k < NMODEL; k++) {
        snprintf(path_buf[k], sizeof path_buf[k], "%s", tmp_path(names[k]));
        paths[k] = path_buf[k];
    }
    test_rng rng = {0x7e57};
    geometry(&rng, xyz_test);
    for (size_t k = 0; k < NMODEL; k++) {
        rpr_model *m = NULL;
        rpr_error err;
        if (rpr_model_load(paths[k], &m, &err) != RPR_OK)
            die("rpr_model_load", &err);
        predict(m, xyz_test, &want[k]);
        rpr_model_free(m);
    }
    static char bp[256]; /* tmp_path's buffers are reused */
    snprintf(bp, sizeof bp, "%s", tmp_path("rpr-nx.cache"));
    test_build_and_map(bp);
    test_stale(bp);
    test_damage(bp);
    test_errors(bp);
    test_relabel();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_nx_files_cache: could not remove %s\n", dir);
    return test_exit("test_nx_files_cache");
}
