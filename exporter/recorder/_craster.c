/* The compiled kernels of the final pick: the twins of its NumPy loops (same results).
 *
 *   spans(px, py, ok, skip, lo, hi, height)       _raster.column_spans (lo, hi filled in place)
 *   pick_error(px, py, ok, idx, ref_lo, ref_hi, height)
 *                                                  _raster.pick_span_error (returns it)
 *   search(px, py, ok, pick, frozen, drawable, rank, ref_lo, ref_hi, height, rounds, alternatives, tries,
 *          checked, hold)                          _refine.refine's sweeps (moves pick in place)
 *   spikes(drawn, half, floor, factor, run, found, size)
 *                                                  _spikes.find_spikes after its floor (returns how many)
 *   distinct(steps, values, out_steps, out_values) _buckets.M4Buckets._distinct (steps, values: tuples
 *                                                  of per-slot arrays; returns how many were written)
 *   interp_gaps(x, t, k, out)                      _judge's |np.interp(x, x[k], t[k]) - t| (out in place)
 *   merge_after(steps, values, drawn, xsteps, xvalues, xdrawn, osteps, ovalues, odrawn, oextra)
 *                                                  _select._merged (returns how many were written;
 *                                                  osteps, ovalues None: not written)
 *
 * Every argument is a C-contiguous buffer (float64 px/py, uint8 masks, int64 indices and spans,
 * float64 outputs) made by the Python callers in _raster.py and _refine.py, which check them; the
 * results are identical to the NumPy versions' (the same IEEE operations in the same order, built
 * with -ffp-contract=off so no multiply-add is fused), so a pick does not depend on which ran.
 * No Python object is allocated while a buffer is held, and nothing is kept between calls.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    Py_buffer b[16];
    int n;
} Buffers;

static void release(Buffers *bs) {
    for (int i = 0; i < bs->n; i++) PyBuffer_Release(&bs->b[i]);
    bs->n = 0;
}

/* Take a contiguous buffer of items of `itemsize` bytes; writable when `out`. */
static int take(Buffers *bs, PyObject *obj, Py_ssize_t itemsize, int out, void **data, Py_ssize_t *len) {
    Py_buffer *b = &bs->b[bs->n];
    if (PyObject_GetBuffer(obj, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (out ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    bs->n++;
    if (b->itemsize != itemsize) {
        PyErr_SetString(PyExc_TypeError, "_craster: a buffer of the wrong item size.");
        return -1;
    }
    *data = b->buf;
    *len = b->len / itemsize;
    return 0;
}

/* floor() as an int64 for the finite doubles drawn here (|x| < 2^63, no NaN), inline: the same value as
 * ifloor(x), without a call into libm per piece (x86-64 has no floor instruction before SSE4.1). */
static inline int64_t ifloor(double x) {
    int64_t i = (int64_t)x;
    return i - (x < (double)i);
}

/* One segment's pieces, column by column (as _raster.pieces): calls visit(col, r0, r1). */
#define PIECES(xa, ya, xb, yb, ...)                                                           \
    do {                                                                                      \
        double dx_ = (xb) - (xa);                                                             \
        double slope_ = ((yb) - (ya)) / (dx_ > 0 ? dx_ : 1.0);                                \
        int64_t ca_ = ifloor(xa), cb_ = ifloor(xb);                           \
        for (int64_t col = ca_; col <= cb_; col++) {                                          \
            double left_ = (xa) > (double)col ? (xa) : (double)col;                           \
            double right_ = (xb) < (double)col + 1.0 ? (xb) : (double)col + 1.0;              \
            double yl_ = (ya) + slope_ * (left_ - (xa));                                      \
            double yr_ = dx_ <= 0 ? (yb) : (ya) + slope_ * (right_ - (xa));                   \
            int64_t r0 = ifloor(yl_ < yr_ ? yl_ : yr_);                               \
            int64_t r1 = ifloor(yl_ > yr_ ? yl_ : yr_);                               \
            __VA_ARGS__;                                                                      \
        }                                                                                     \
    } while (0)

static inline int64_t differing(int64_t lo, int64_t hi, int64_t rlo, int64_t rhi) {
    int64_t drawn = hi - lo + 1 > 0 ? hi - lo + 1 : 0;
    int64_t ref = rhi - rlo + 1 > 0 ? rhi - rlo + 1 : 0;
    int64_t top = hi < rhi ? hi : rhi, bottom = lo > rlo ? lo : rlo;
    int64_t both = top - bottom + 1 > 0 ? top - bottom + 1 : 0;
    return drawn + ref - 2 * both;
}

/* The column spans of the line through points idx[0..n) (idx NULL: 0..n) drawn where ok, each point's two
 * segments left out where skip (over the n positions; NULL: none), as _raster.column_spans. */
static void draw_spans(const double *px, const double *py, const uint8_t *ok, const int64_t *idx, Py_ssize_t n,
                       const uint8_t *skip, int64_t *lo, int64_t *hi, Py_ssize_t w, int64_t height) {
    for (Py_ssize_t c = 0; c < w; c++) {
        lo[c] = height + 1;
        hi[c] = -1;
    }
#define AT(i) (idx ? idx[i] : (int64_t)(i))
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t p = AT(i);
        if (!ok[p]) continue;
        int left_ok = i > 0 && ok[AT(i - 1)], right_ok = i + 1 < n && ok[AT(i + 1)];
        if (!left_ok && !right_ok) { /* a dot */
            int64_t col = ifloor(px[p]), row = ifloor(py[p]);
            if (row < lo[col]) lo[col] = row;
            if (row > hi[col]) hi[col] = row;
        }
        if (!right_ok || (skip && (skip[i] || skip[i + 1]))) continue;
        int64_t q = AT(i + 1);
        PIECES(px[p], py[p], px[q], py[q], {
            if (r0 < lo[col]) lo[col] = r0;
            if (r1 > hi[col]) hi[col] = r1;
        });
    }
#undef AT
}

static PyObject *spans(PyObject *self, PyObject *args) {
    PyObject *opx, *opy, *ook, *oskip, *olo, *ohi;
    long long height;
    if (!PyArg_ParseTuple(args, "OOOOOOL", &opx, &opy, &ook, &oskip, &olo, &ohi, &height)) return NULL;
    Buffers bs = {.n = 0};
    double *px, *py;
    uint8_t *ok, *skip = NULL;
    int64_t *lo, *hi;
    Py_ssize_t n, m, w, w2;
    if (take(&bs, opx, 8, 0, (void **)&px, &n) < 0 || take(&bs, opy, 8, 0, (void **)&py, &m) < 0 ||
        take(&bs, ook, 1, 0, (void **)&ok, &m) < 0 || take(&bs, olo, 8, 1, (void **)&lo, &w) < 0 ||
        take(&bs, ohi, 8, 1, (void **)&hi, &w2) < 0)
        goto fail;
    if (oskip != Py_None && take(&bs, oskip, 1, 0, (void **)&skip, &m) < 0) goto fail;
    draw_spans(px, py, ok, NULL, n, skip, lo, hi, w, height);
    release(&bs);
    Py_RETURN_NONE;
fail:
    release(&bs);
    return NULL;
}

/* _raster.span_error of the line through the points idx (a pick; drawn where ok) against the reference spans:
 * the differing rows over the reference's rows (at least 1), with no array of the pick's points gathered. */
static PyObject *pick_error(PyObject *self, PyObject *args) {
    PyObject *opx, *opy, *ook, *oidx, *orlo, *orhi;
    long long height;
    if (!PyArg_ParseTuple(args, "OOOOOOL", &opx, &opy, &ook, &oidx, &orlo, &orhi, &height)) return NULL;
    Buffers bs = {.n = 0};
    double *px, *py;
    uint8_t *ok;
    int64_t *idx, *rlo, *rhi;
    Py_ssize_t n, m, k, w, w2;
    if (take(&bs, opx, 8, 0, (void **)&px, &n) < 0 || take(&bs, opy, 8, 0, (void **)&py, &m) < 0 ||
        take(&bs, ook, 1, 0, (void **)&ok, &m) < 0 || take(&bs, oidx, 8, 0, (void **)&idx, &k) < 0 ||
        take(&bs, orlo, 8, 0, (void **)&rlo, &w) < 0 || take(&bs, orhi, 8, 0, (void **)&rhi, &w2) < 0) {
        release(&bs);
        return NULL;
    }
    int64_t *lo = PyMem_Malloc(2 * (size_t)w * sizeof(int64_t));
    if (!lo) {
        release(&bs);
        return PyErr_NoMemory();
    }
    int64_t *hi = lo + w, wrong = 0, rows = 0;
    draw_spans(px, py, ok, idx, k, NULL, lo, hi, w, height);
    for (Py_ssize_t c = 0; c < w; c++) {
        wrong += differing(lo[c], hi[c], rlo[c], rhi[c]);
        rows += rhi[c] - rlo[c] + 1 > 0 ? rhi[c] - rlo[c] + 1 : 0;
    }
    PyMem_Free(lo);
    release(&bs);
    return PyFloat_FromDouble((double)wrong / (double)(rows > 1 ? rows : 1));
}

/* Rows differing from the reference over the columns of the segments l -> m -> r, drawn with the rest
 * of the drawing (fixed spans): their pieces in one column are one group. */
static int64_t seg_cost(const double *px, const double *py, int64_t l, int64_t m, int64_t r, const int64_t *flo,
                        const int64_t *fhi, const int64_t *rlo, const int64_t *rhi) {
    int64_t total = 0, at = -1, glo = 0, ghi = 0;
    int64_t ends[3] = {l, m, r};
    for (int s = 0; s < 2; s++) {
        int64_t a = ends[s], b = ends[s + 1];
        PIECES(px[a], py[a], px[b], py[b], {
            if (col != at) {
                if (at >= 0)
                    total += differing(glo < flo[at] ? glo : flo[at], ghi > fhi[at] ? ghi : fhi[at], rlo[at], rhi[at]);
                at = col;
                glo = r0;
                ghi = r1;
            } else {
                if (r0 < glo) glo = r0;
                if (r1 > ghi) ghi = r1;
            }
        });
    }
    if (at >= 0) total += differing(glo < flo[at] ? glo : flo[at], ghi > fhi[at] ? ghi : fhi[at], rlo[at], rhi[at]);
    return total;
}

/* Summed |row - the line l -> m -> r| of the drawable candidates of ranks first+1 .. first+between. */
static double dev_of(const double *px, const double *py, const int64_t *drawable, int64_t first, int64_t between,
                     int64_t l, int64_t m, int64_t r) {
    double sum = 0.0, xm = px[m], ym = py[m];
    for (int64_t q = first + 1; q <= first + between; q++) {
        int64_t c = drawable[q];
        double x = px[c], y = py[c], xa, ya, xb, yb;
        if (x <= xm) {
            xa = px[l], ya = py[l], xb = xm, yb = ym;
        } else {
            xa = xm, ya = ym, xb = px[r], yb = py[r];
        }
        double dx = xb - xa;
        double line = ya + (yb - ya) * (dx > 0 ? (x - xa) / dx : 0.0);
        sum += fabs(y - line);
    }
    return sum;
}

#define MAX_TRIED 256 /* alternatives per point, at most (the caller's cap is REFINE_ALTERNATIVES) */

/* One sweep of _refine._sweep (every third free picked point from pick position 1 + third, moved in place):
 * returns how many moved. `lo`, `hi`: w columns of scratch; `wrong`: w + 1; `moving`: the pick's size; `ks`
 * its third. Each point tries up to `cap` candidates spread between its neighbours and itself last, ordered
 * by (cost, candidate); the first of the `checked` cheapest that costs less than where it is (and, with
 * `hold`, deviates no more) is taken. */
static int64_t sweep_third(const double *px, const double *py, const uint8_t *ok, int64_t *pick, Py_ssize_t n,
                           const uint8_t *frozen, const int64_t *drawable, Py_ssize_t d, const int64_t *rank,
                           const int64_t *rlo, const int64_t *rhi, Py_ssize_t w, int64_t height, int third,
                           int64_t alternatives, int64_t tries, int64_t checked, int hold, int64_t *lo, int64_t *hi,
                           int64_t *wrong, uint8_t *moving, int64_t *ks) {
    Py_ssize_t nk = 0;
    for (Py_ssize_t k = 1 + third; k < n - 1; k += 3)
        if (!frozen[pick[k]] && ok[pick[k - 1]] && ok[pick[k]] && ok[pick[k + 1]]) ks[nk++] = k;
    if (!nk) return 0;
    /* a point whose columns already draw exactly like the reference has nothing to gain */
    draw_spans(px, py, ok, pick, n, NULL, lo, hi, w, height);
    wrong[0] = 0;
    for (Py_ssize_t c = 0; c < w; c++) wrong[c + 1] = wrong[c] + differing(lo[c], hi[c], rlo[c], rhi[c]);
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < nk; i++) {
        int64_t first = ifloor(px[pick[ks[i] - 1]]), last = ifloor(px[pick[ks[i] + 1]]);
        if (wrong[last + 1] > wrong[first]) ks[kept++] = ks[i];
    }
    nk = kept;
    if (!nk) return 0;
    memset(moving, 0, (size_t)n);
    for (Py_ssize_t i = 0; i < nk; i++) moving[ks[i]] = 1;
    draw_spans(px, py, ok, pick, n, moving, lo, hi, w, height); /* the rest of the drawing */
    int64_t cap = tries / nk < alternatives ? tries / nk : alternatives;
    cap = cap > 2 ? cap : 2;
    if (cap > MAX_TRIED - 1) cap = MAX_TRIED - 1;
    int64_t moved = 0;
    int64_t alts[MAX_TRIED], costs[MAX_TRIED];
    int order[MAX_TRIED];
    for (Py_ssize_t i = 0; i < nk; i++) {
        int64_t k = ks[i], l = pick[k - 1], r = pick[k + 1];
        int64_t a = rank[l], between = rank[r] - a - 1;
        int64_t tried = between < cap ? between : cap;
        for (int64_t t = 0; t < tried; t++) {
            int64_t at = a + 1 + (t * between) / (tried > 1 ? tried : 1);
            alts[t] = drawable[at < d - 1 ? at : d - 1];
        }
        alts[tried] = pick[k];
        for (int64_t t = 0; t <= tried; t++) {
            costs[t] = seg_cost(px, py, l, alts[t], r, lo, hi, rlo, rhi);
            /* insertion by (cost, candidate), stable: NumPy's lexsort order */
            int64_t j = t;
            while (j > 0 && (costs[order[j - 1]] > costs[t] ||
                             (costs[order[j - 1]] == costs[t] && alts[order[j - 1]] > alts[t]))) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = (int)t;
        }
        int64_t here_cost = costs[tried];
        int64_t top = tried + 1 < checked ? tried + 1 : checked;
        int have_dev = 0;
        double here_dev = 0.0;
        for (int64_t j = 0; j < top; j++) {
            int t = order[j];
            if (!(costs[t] < here_cost)) continue;
            if (hold) {
                if (!have_dev) {
                    here_dev = dev_of(px, py, drawable, a, between, l, pick[k], r);
                    have_dev = 1;
                }
                if (!(dev_of(px, py, drawable, a, between, l, alts[t], r) <= here_dev)) continue;
            }
            pick[k] = alts[t];
            moved++;
            break;
        }
    }
    return moved;
}

/* _refine.refine's rounds of three sweeps on pick (the picked candidates' indices, moved in place), at most
 * `rounds`, fewer when a round moves nothing; returns how many moves were made. */
static PyObject *search(PyObject *self, PyObject *args) {
    PyObject *o[9];
    long long height, rounds, alternatives, tries, checked;
    int hold;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOLLLLLp", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8],
                          &height, &rounds, &alternatives, &tries, &checked, &hold))
        return NULL;
    Buffers bs = {.n = 0};
    double *px, *py;
    uint8_t *ok, *frozen;
    int64_t *pick, *drawable, *rank, *rlo, *rhi;
    Py_ssize_t n, m, np_, d, w, w2;
    if (take(&bs, o[0], 8, 0, (void **)&px, &n) < 0 || take(&bs, o[1], 8, 0, (void **)&py, &m) < 0 ||
        take(&bs, o[2], 1, 0, (void **)&ok, &m) < 0 || take(&bs, o[3], 8, 1, (void **)&pick, &np_) < 0 ||
        take(&bs, o[4], 1, 0, (void **)&frozen, &m) < 0 || take(&bs, o[5], 8, 0, (void **)&drawable, &d) < 0 ||
        take(&bs, o[6], 8, 0, (void **)&rank, &m) < 0 || take(&bs, o[7], 8, 0, (void **)&rlo, &w) < 0 ||
        take(&bs, o[8], 8, 0, (void **)&rhi, &w2) < 0) {
        release(&bs);
        return NULL;
    }
    if (w2 != w || alternatives < 1) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "_craster.search: reference spans of different widths, or no alternative.");
        return NULL;
    }
    /* scratch: two spans of w columns, w + 1 prefix sums, the pick's third and its moving mask */
    char *scratch = PyMem_Malloc((size_t)(3 * w + 1 + np_) * sizeof(int64_t) + (size_t)np_ + 1);
    if (!scratch) {
        release(&bs);
        return PyErr_NoMemory();
    }
    int64_t *lo = (int64_t *)scratch, *hi = lo + w, *wrong = hi + w, *ks = wrong + w + 1;
    uint8_t *moving = (uint8_t *)(ks + np_);
    long long moves = 0;
    for (long long round = 0; round < rounds; round++) {
        int64_t moved = 0;
        for (int third = 0; third < 3; third++)
            moved += sweep_third(px, py, ok, pick, np_, frozen, drawable, d, rank, rlo, rhi, w, height, third,
                                 alternatives, tries, checked, hold, lo, hi, wrong, moving, ks);
        moves += moved;
        if (!moved) break;
    }
    PyMem_Free(scratch);
    release(&bs);
    return PyLong_FromLongLong(moves);
}

#define MAX_WINDOW 1024
#define MAX_RUN 64

/* The two tilings' windows of `width` = 2 * half + 1 values (one starting at the first value, one at
 * -half; ends padded with the end values), as _spikes._tiled: each window's median (trend) and median
 * distance from it floored at `floor_` (spread). A window is two sorted blocks, a first of half + 1 values
 * H_k (positions k * width ..) and a second of half G_k: tiling a's window k is H_k with G_k, tiling b's is
 * G_(k-1) with H_k, so each block is sorted once and each median is a merge of two sorted blocks (the same
 * order statistics as np.partition's, of the same fabs(x - trend) values). */
static void put_sorted(const double *d, int64_t n, int64_t from, int64_t count, double *out) {
    for (int64_t j = 0; j < count; j++) {
        int64_t at = from + j;
        double x = d[at < 0 ? 0 : (at >= n ? n - 1 : at)];
        int64_t q = j;
        while (q > 0 && out[q - 1] > x) {
            out[q] = out[q - 1];
            q--;
        }
        out[q] = x;
    }
}

/* A window's trend (median, the mid-th smallest value) and spread (the mid-th smallest |x - trend|, floored),
 * its values being two sorted blocks: merged into one sorted run, the distances are two sorted runs from the
 * median outwards (trend - x below it, x - trend above: the same doubles as fabs(x - trend)), walked to the
 * mid-th. */
static void window_stats(const double *a, int64_t p, const double *b, int64_t q, int64_t mid, double floor_,
                         double *trend, double *spread) {
    double m[MAX_WINDOW];
    int64_t i = 0, j = 0, o = 0, n = p + q;
    while (i < p && j < q) {
        double x = a[i], y = b[j];
        int first = x <= y;
        m[o++] = first ? x : y;
        i += first;
        j += !first;
    }
    while (i < p) m[o++] = a[i++];
    while (j < q) m[o++] = b[j++];
    double t = m[mid], d = 0.0;
    int64_t lo = mid, hi = mid + 1;
    for (int64_t step = 0; step <= mid; step++) {
        double dl = lo >= 0 ? t - m[lo] : INFINITY, dh = hi < n ? m[hi] - t : INFINITY;
        int low = dl <= dh;
        d = low ? dl : dh;
        lo -= low;
        hi += !low;
    }
    *trend = t;
    *spread = (d != d || d >= floor_) ? d : floor_; /* np.maximum: NaN wins */
}

static void tilings(const double *d, int64_t n, int64_t half, double floor_, double *ta, double *sa, double *tb,
                    double *sb) {
    int64_t width = 2 * half + 1, na = (n + width - 1) / width, nb = (n + half + width - 1) / width;
    double blocks[3][MAX_WINDOW / 2 + 1];
    double *g_prev = blocks[0], *h = blocks[1], *g = blocks[2];
    put_sorted(d, n, -half, half, g_prev);
    for (int64_t k = 0; k < nb; k++) {
        put_sorted(d, n, k * width, half + 1, h);
        window_stats(g_prev, half, h, half + 1, half, floor_, &tb[k], &sb[k]);
        if (k >= na) continue;
        put_sorted(d, n, k * width + half + 1, half, g);
        window_stats(h, half + 1, g, half, half, floor_, &ta[k], &sa[k]);
        double *swap = g_prev;
        g_prev = g;
        g = swap;
    }
}

static inline double sign_of(double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }

/* _spikes.find_spikes after its floor: writes the spikes' indices and sizes, returns how many. */
static PyObject *spikes(PyObject *self, PyObject *args) {
    PyObject *od, *ofound, *osize;
    long long half, run_max;
    double floor_, factor;
    if (!PyArg_ParseTuple(args, "OLddLOO", &od, &half, &floor_, &factor, &run_max, &ofound, &osize)) return NULL;
    int64_t width = 2 * half + 1;
    double run_sz[MAX_RUN];
    if (half < 1 || width > MAX_WINDOW || run_max < 1 || run_max > MAX_RUN) {
        PyErr_SetString(PyExc_ValueError, "_craster.spikes: windows of 3..1023 values, runs of 1..64.");
        return NULL;
    }
    Buffers bs = {.n = 0};
    double *d, *size;
    int64_t *found;
    Py_ssize_t n, m1, m2;
    if (take(&bs, od, 8, 0, (void **)&d, &n) < 0 || take(&bs, ofound, 8, 1, (void **)&found, &m1) < 0 ||
        take(&bs, osize, 8, 1, (void **)&size, &m2) < 0) {
        release(&bs);
        return NULL;
    }
    if (m1 < n || m2 < n) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "_craster.spikes: outputs shorter than the values.");
        return NULL;
    }
    int64_t windows = n / width + 2;
    double *stats = PyMem_Malloc(4 * windows * sizeof(double));
    if (!stats) {
        release(&bs);
        return PyErr_NoMemory();
    }
    double *ta = stats, *sa = stats + windows, *tb = stats + 2 * windows, *sb = stats + 3 * windows;
    tilings(d, n, half, floor_, ta, sa, tb, sb);
    const double near = factor * (1.0 - 1e-9);
    Py_ssize_t out = 0;
    double run_side = 0.0;
    int64_t run_start = 0;
    int64_t wa = 0, wb = 0, ra = 0, rb = half; /* i's windows, and its place in them (no division) */
    for (int64_t i = 0; i <= n; i++) {
        double side = 0.0, sz = 0.0;
        if (i < n) {
            double da = d[i] - ta[wa], db = d[i] - tb[wb];
            /* the divisions only where both distances may pass factor spreads (a margin far above rounding):
             * elsewhere the size is at most factor, and a value of no side is never a spike's */
            if (fabs(da) > near * sa[wa] && fabs(db) > near * sb[wb]) {
                double za = fabs(da) / sa[wa], zb = fabs(db) / sb[wb];
                sz = za < zb ? za : zb;
                double ga = sign_of(da);
                if (sz > factor && ga == sign_of(db)) side = ga;
            }
            if (++ra == width) ra = 0, wa++;
            if (++rb == width) rb = 0, wb++;
        }
        if (side != run_side || i == n) {
            if (run_side != 0.0 && i - run_start <= run_max)
                for (int64_t j = run_start; j < i; j++) {
                    found[out] = j;
                    size[out] = run_sz[j - run_start];
                    out++;
                }
            run_side = side;
            run_start = i;
        }
        if (i - run_start < MAX_RUN) run_sz[i - run_start] = sz; /* a longer run is no spike */
    }
    PyMem_Free(stats);
    release(&bs);
    return PyLong_FromSsize_t(out);
}

#define MAX_SLOTS 7

static PyObject *distinct(PyObject *self, PyObject *args) {
    PyObject *ost, *ova, *oos, *oov;
    if (!PyArg_ParseTuple(args, "O!O!OO", &PyTuple_Type, &ost, &PyTuple_Type, &ova, &oos, &oov)) return NULL;
    Py_ssize_t k = PyTuple_GET_SIZE(ost);
    if (k < 1 || k > MAX_SLOTS || PyTuple_GET_SIZE(ova) != k) {
        PyErr_SetString(PyExc_ValueError, "_craster.distinct: 1..7 slots, as many value arrays as step arrays.");
        return NULL;
    }
    Buffers bs = {.n = 0};
    int64_t *st[MAX_SLOTS], *os;
    double *va[MAX_SLOTS], *ov;
    Py_ssize_t n = -1, len, cap, cap2;
    for (Py_ssize_t s = 0; s < k; s++) {
        if (take(&bs, PyTuple_GET_ITEM(ost, s), 8, 0, (void **)&st[s], &len) < 0) goto fail;
        if (n >= 0 && len != n) goto bad;
        n = len;
        if (take(&bs, PyTuple_GET_ITEM(ova, s), 8, 0, (void **)&va[s], &len) < 0) goto fail;
        if (len != n) goto bad;
    }
    if (take(&bs, oos, 8, 1, (void **)&os, &cap) < 0 || take(&bs, oov, 8, 1, (void **)&ov, &cap2) < 0) goto fail;
    if (cap < n * k || cap2 < n * k) goto bad;
    Py_ssize_t out = 0;
    int64_t rs[MAX_SLOTS], rb[MAX_SLOTS];
    double rv[MAX_SLOTS];
    for (Py_ssize_t b = 0; b < n; b++) {
        int c = 0;
        for (Py_ssize_t s = 0; s < k; s++) { /* insertion by (step, the value's bits as int64), stable */
            int64_t step = st[s][b], bits;
            double v = va[s][b];
            memcpy(&bits, &v, 8);
            int j = c++;
            while (j > 0 && (rs[j - 1] > step || (rs[j - 1] == step && rb[j - 1] > bits))) {
                rs[j] = rs[j - 1];
                rb[j] = rb[j - 1];
                rv[j] = rv[j - 1];
                j--;
            }
            rs[j] = step;
            rb[j] = bits;
            rv[j] = v;
        }
        for (int j = 0; j < c; j++) {
            if (rs[j] == -1) continue; /* an empty slot */
            if (out > 0 && os[out - 1] == rs[j]) { /* a point kept in two slots appears once */
                int64_t prev;
                memcpy(&prev, &ov[out - 1], 8);
                if (prev == rb[j]) continue;
            }
            os[out] = rs[j];
            ov[out] = rv[j];
            out++;
        }
    }
    release(&bs);
    return PyLong_FromSsize_t(out);
bad:
    PyErr_SetString(PyExc_ValueError, "_craster.distinct: arrays of different lengths, or outputs too short.");
fail:
    release(&bs);
    return NULL;
}

/* |np.interp(x, x[k], t[k]) - t| per point, in place in out: numpy's formula and cases (arr_interp: the
 * segment of the last knot at or before x, a knot's own value where x is one, the slope of the two knots,
 * the other end's form where that gives NaN), the knots walked in step with the sorted x instead of searched. */
static PyObject *interp_gaps(PyObject *self, PyObject *args) {
    PyObject *ox, *ot, *ok, *oout;
    if (!PyArg_ParseTuple(args, "OOOO", &ox, &ot, &ok, &oout)) return NULL;
    Buffers bs = {.n = 0};
    double *x, *t, *out;
    int64_t *k;
    Py_ssize_t n, nt, m, no;
    if (take(&bs, ox, 8, 0, (void **)&x, &n) < 0 || take(&bs, ot, 8, 0, (void **)&t, &nt) < 0 ||
        take(&bs, ok, 8, 0, (void **)&k, &m) < 0 || take(&bs, oout, 8, 1, (void **)&out, &no) < 0) {
        release(&bs);
        return NULL;
    }
    if (nt != n || no != n || m < 2) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "_craster.interp_gaps: x, t and out of one length, and two knots.");
        return NULL;
    }
    for (Py_ssize_t q = 0; q < m; q++)
        if (k[q] < 0 || k[q] >= n || (q && k[q] <= k[q - 1])) {
            release(&bs);
            PyErr_SetString(PyExc_ValueError, "_craster.interp_gaps: knots out of range or not increasing.");
            return NULL;
        }
    Py_ssize_t j = -1; /* the last knot at or before x[i] */
    for (Py_ssize_t i = 0; i < n; i++) {
        double xv = x[i], v;
        while (j + 1 < m && x[k[j + 1]] <= xv) j++;
        if (j < 0) v = t[k[0]];
        else if (j == m - 1) v = t[k[m - 1]];
        else if (x[k[j]] == xv) v = t[k[j]];
        else {
            double x0 = x[k[j]], x1 = x[k[j + 1]], y0 = t[k[j]], y1 = t[k[j + 1]];
            double slope = (y1 - y0) / (x1 - x0);
            v = slope * (xv - x0) + y0;
            if (v != v) {
                v = slope * (xv - x1) + y1;
                if (v != v && y0 == y1) v = y0;
            }
        }
        out[i] = fabs(v - t[i]);
    }
    release(&bs);
    Py_RETURN_NONE;
}

/* Points (steps, values, drawn) and extra ones (xsteps, ...), both sorted by step, merged as _select._merged:
 * each extra after every point of a step at or before its own, an extra equal (step and value) to the point
 * just before it left out; oextra marks the extras written. Returns how many were written. */
static PyObject *merge_after(PyObject *self, PyObject *args) {
    PyObject *o[10];
    if (!PyArg_ParseTuple(args, "OOOOOOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8], &o[9]))
        return NULL;
    Buffers bs = {.n = 0};
    int64_t *st, *xst, *ost;
    double *va, *dr, *xva, *xdr, *ova, *odr;
    uint8_t *oex;
    Py_ssize_t n, n1, n2, m, m1, m2, c0, c1, c2, c3;
    if (take(&bs, o[0], 8, 0, (void **)&st, &n) < 0 || take(&bs, o[1], 8, 0, (void **)&va, &n1) < 0 ||
        take(&bs, o[2], 8, 0, (void **)&dr, &n2) < 0 || take(&bs, o[3], 8, 0, (void **)&xst, &m) < 0 ||
        take(&bs, o[4], 8, 0, (void **)&xva, &m1) < 0 || take(&bs, o[5], 8, 0, (void **)&xdr, &m2) < 0 ||
        take(&bs, o[8], 8, 1, (void **)&odr, &c2) < 0 || take(&bs, o[9], 1, 1, (void **)&oex, &c3) < 0) {
        release(&bs);
        return NULL;
    }
    c0 = c1 = c2;
    if (o[6] == Py_None) ost = NULL; /* the merged steps and values are not wanted: only drawn and oextra */
    else if (take(&bs, o[6], 8, 1, (void **)&ost, &c0) < 0) {
        release(&bs);
        return NULL;
    }
    if (o[7] == Py_None) ova = NULL;
    else if (take(&bs, o[7], 8, 1, (void **)&ova, &c1) < 0) {
        release(&bs);
        return NULL;
    }
    if (n1 != n || n2 != n || m1 != m || m2 != m || c0 < n + m || c1 < n + m || c2 < n + m || c3 < n + m) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "_craster.merge_after: arrays of different lengths, or outputs too short.");
        return NULL;
    }
    Py_ssize_t i = 0, j = 0, out = 0;
    int have_prev = 0;
    int64_t prev_s = 0;
    double prev_v = 0.0;
    while (i < n || j < m) {
        if (j >= m || (i < n && st[i] <= xst[j])) {
            prev_s = st[i], prev_v = va[i], odr[out] = dr[i], oex[out] = 0;
            if (ost) ost[out] = prev_s;
            if (ova) ova[out] = prev_v;
            out++, i++;
        } else {
            int same = have_prev && prev_s == xst[j] && prev_v == xva[j];
            prev_s = xst[j], prev_v = xva[j];
            if (!same) {
                odr[out] = xdr[j], oex[out] = 1;
                if (ost) ost[out] = prev_s;
                if (ova) ova[out] = prev_v;
                out++;
            }
            j++;
        }
        have_prev = 1;
    }
    release(&bs);
    return PyLong_FromSsize_t(out);
}

static PyMethodDef craster_methods[] = {
    {"spans", spans, METH_VARARGS, "Column spans of a projected line (twin of _raster.column_spans)."},
    {"pick_error", pick_error, METH_VARARGS, "The span error of a pick (twin of _raster.pick_span_error)."},
    {"search", search, METH_VARARGS, "The sweeps of one local search (twin of _refine.refine's NumPy path)."},
    {"spikes", spikes, METH_VARARGS, "The spikes of drawn values (twin of _spikes.find_spikes)."},
    {"distinct", distinct, METH_VARARGS, "The distinct points of M4 slots (twin of M4Buckets._distinct)."},
    {"merge_after", merge_after, METH_VARARGS, "Points and extra points merged by step (twin of _select._merged)."},
    {"interp_gaps", interp_gaps, METH_VARARGS, "|np.interp(x, x[k], t[k]) - t| (twin of _judge's NumPy path)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef craster_module = {
    PyModuleDef_HEAD_INIT, "_craster", "The final pick's compiled drawing kernels (see _raster.py, _refine.py).", -1,
    craster_methods,
};

PyMODINIT_FUNC PyInit__craster(void) { return PyModule_Create(&craster_module); }
