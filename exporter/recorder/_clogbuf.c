/* The compiled log buffer: CurveRecorder.log()'s hot path in C.
 *
 * Same contract as the pure-Python PyLogBuffer in _logbuf.py (read that file first; the tests run
 * both and compare them). log(step, **metrics) is a vectorcall method: no kwargs dict is built,
 * an exact float is appended to its metric's int64/float64 arrays without a Python call, and
 * everything else goes to the recorder's callbacks:
 *   on_step(step)               a step that is not an exact int, is below `floor`, or `closed`
 *   on_value(name, value, step) a value that is not an exact float; returns a float, or an
 *                               object (a staged device value), stored as NaN plus (index, object)
 *   on_new(name) -> int         a metric without a series (first logged, or after clear()): checks
 *                               the name and returns the metric's floor (its last recorded step)
 *   on_back(name, step)         a metric logged below its own floor: the recorder purges its tail
 *   on_full()                   a metric's buffer reached `capacity` values: fold now
 * A call checks every value and name, and makes room for every metric, before it stores anything,
 * so a call that raises stores nothing (on_back may have purged that metric's stale tail).
 * A call site passes the same metric names every time: the last CACHE_ENTRIES sets of names that
 * completed a call keep their series, so the next call with those names (the same kwnames tuple, or
 * the same str objects) skips the dict lookups. An entry is used only while the dict of series is
 * unchanged since it was made (`version`); clear() and the like drop every entry.
 *
 * Re-entrancy: allocating a GC-tracked object may run a collection, and so arbitrary Python code
 * (finalizers, gc callbacks) that may call this buffer again. So no raw pointer or count is kept
 * across such an allocation: storing a point allocates nothing of the kind, read() re-reads the
 * series after each one, and every series in use is held by a strong reference.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* values of one metric: 16 bytes each (+8 when objects are kept) */
#define MAX_CAPACITY ((Py_ssize_t)1 << 40)

/* -- Series: one metric's buffered points ------------------------------------------------ */
typedef struct {
    PyObject_HEAD
    Py_ssize_t n;
    Py_ssize_t cap;
    long long floor; /* the metric's last step: a lower one calls on_back */
    int64_t *steps;
    double *values;
    PyObject **objects; /* NULL, or cap slots: the object kept for point i (its value is NaN), or NULL */
} Series;

/* Drop the kept objects and empty the series (the arrays stay allocated for reuse). */
static void series_reset(Series *s) {
    PyObject **objects = s->objects;
    Py_ssize_t n = s->n;
    s->objects = NULL; /* first: decrefs below may run code that uses this series */
    s->n = 0;
    if (objects != NULL) {
        for (Py_ssize_t i = 0; i < n; i++) Py_XDECREF(objects[i]);
        PyMem_Free(objects);
    }
}

static int series_traverse(Series *self, visitproc visit, void *arg) {
    if (self->objects != NULL)
        for (Py_ssize_t i = 0; i < self->n; i++) Py_VISIT(self->objects[i]);
    return 0;
}

static int series_clear(Series *self) {
    series_reset(self);
    return 0;
}

static void series_dealloc(Series *self) {
    PyObject_GC_UnTrack(self);
    series_reset(self);
    PyMem_Free(self->steps);
    PyMem_Free(self->values);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject SeriesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "curvewatch.recorder._clogbuf.Series",
    .tp_basicsize = sizeof(Series),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One metric's buffered points (internal).",
    .tp_traverse = (traverseproc)series_traverse,
    .tp_clear = (inquiry)series_clear,
    .tp_dealloc = (destructor)series_dealloc,
};

static Series *series_new(Py_ssize_t cap) {
    Series *s = PyObject_GC_New(Series, &SeriesType);
    if (s == NULL) return NULL;
    s->n = 0;
    s->cap = cap;
    s->floor = LLONG_MIN;
    s->objects = NULL;
    s->steps = PyMem_New(int64_t, cap);
    s->values = PyMem_New(double, cap);
    if (s->steps == NULL || s->values == NULL) {
        Py_DECREF(s); /* not tracked yet: dealloc frees what was allocated */
        PyErr_NoMemory();
        return NULL;
    }
    PyObject_GC_Track(s);
    return s;
}

/* Room for one more point, and for its object when it is one. Allocates nothing GC-tracked. */
static int series_reserve(Series *s, int object) {
    if (s->n == s->cap) { /* only when a fold failed and left the buffer full */
        if (s->cap > MAX_CAPACITY / 2) {
            PyErr_SetString(PyExc_MemoryError, "log buffer full: the fold keeps failing.");
            return -1;
        }
        Py_ssize_t cap = s->cap * 2;
        int64_t *steps = PyMem_Resize(s->steps, int64_t, cap);
        if (steps == NULL) return PyErr_NoMemory(), -1;
        s->steps = steps;
        double *values = PyMem_Resize(s->values, double, cap);
        if (values == NULL) return PyErr_NoMemory(), -1;
        s->values = values;
        if (s->objects != NULL) {
            PyObject **objects = PyMem_Resize(s->objects, PyObject *, cap);
            if (objects == NULL) return PyErr_NoMemory(), -1;
            memset(objects + s->cap, 0, (cap - s->cap) * sizeof(PyObject *));
            s->objects = objects;
        }
        s->cap = cap;
    }
    if (object && s->objects == NULL) {
        s->objects = PyMem_Calloc(s->cap, sizeof(PyObject *));
        if (s->objects == NULL) return PyErr_NoMemory(), -1;
    }
    return 0;
}

/* Store one point; series_reserve(s, !float) succeeded just before. Cannot fail. */
static void series_store(Series *s, int64_t step, PyObject *value) {
    if (PyFloat_Check(value)) {
        s->values[s->n] = PyFloat_AS_DOUBLE(value);
    } else {
        s->values[s->n] = Py_NAN;
        s->objects[s->n] = Py_NewRef(value);
    }
    s->steps[s->n] = step;
    s->floor = step;
    s->n++;
}

/* (steps bytes, values bytes, [(index - start, object), ...]) of points start..stop-1 */
static PyObject *series_read(Series *s, Py_ssize_t start, Py_ssize_t stop) {
    if (start < 0) start = 0;
    PyObject *objects = PyList_New(0);
    if (objects == NULL) return NULL;
    for (Py_ssize_t i = start; i < stop && i < s->n && s->objects != NULL; i++) { /* re-read: a GC may run */
        PyObject *o = s->objects[i];
        if (o == NULL) continue;
        Py_INCREF(o); /* before the allocation: a GC there may empty the series and drop its reference */
        PyObject *pair = Py_BuildValue("(nN)", i - start, o);
        if (pair == NULL || PyList_Append(objects, pair) < 0) {
            Py_XDECREF(pair);
            Py_DECREF(objects);
            return NULL;
        }
        Py_DECREF(pair);
    }
    /* from here on nothing GC-tracked is allocated until the copies are made */
    if (stop > s->n) stop = s->n;
    if (stop < start) stop = start;
    Py_ssize_t k = stop - start;
    PyObject *steps = PyBytes_FromStringAndSize(k ? (const char *)(s->steps + start) : NULL,
                                                k * (Py_ssize_t)sizeof(int64_t));
    PyObject *values = PyBytes_FromStringAndSize(k ? (const char *)(s->values + start) : NULL,
                                                 k * (Py_ssize_t)sizeof(double));
    if (steps == NULL || values == NULL) {
        Py_XDECREF(steps);
        Py_XDECREF(values);
        Py_DECREF(objects);
        return NULL;
    }
    return Py_BuildValue("(NNN)", steps, values, objects);
}

/* -- LogBuffer ------------------------------------------------------------------------------ */
#define CACHE_ENTRIES 16 /* call sites remembered (train, eval, ... logged alternately) */
#define CACHE_METRICS 32 /* metrics of one call that an entry holds; calls with more look them up */

typedef struct {
    PyObject *names;                /* the call's names as a tuple (a strong reference), or NULL: unused */
    unsigned long long version;     /* the buffer's version when the entry was made */
    Py_ssize_t n;
    Series *series[CACHE_METRICS];  /* the names' series, strong references */
} CacheEntry;

typedef struct {
    PyObject_HEAD
    PyObject *series; /* dict: metric name -> Series, in first-logged order */
    Py_ssize_t capacity;
    long long floor;
    PyObject *floor_beyond; /* a floor set above the largest int64 (every step is below it), or NULL */
    int closed;
    PyObject *on_step;
    PyObject *on_value;
    PyObject *on_new;
    PyObject *on_back;
    PyObject *on_full;
    /* the series of recent calls' metric names: a call site passes the same names (the same kwnames tuple,
       or the same str objects from a dict) every time, so such a call skips the dict lookups while
       `series` is unchanged since the entry was made (its version) */
    unsigned long long version; /* bumped by every change to `series` */
    CacheEntry cache[CACHE_ENTRIES];
    int cache_next; /* the entry replaced next (round robin) */
    int cache_last; /* the entry that answered last: the search starts there (call sites in turn) */
} LogBuffer;

/* Empty one entry (the decrefs may run code: the entry is emptied first). */
static void cache_entry_drop(CacheEntry *e) {
    PyObject *names = e->names;
    Series *series[CACHE_METRICS];
    Py_ssize_t n = e->n;
    memcpy(series, e->series, sizeof(series));
    e->names = NULL;
    e->n = 0;
    for (Py_ssize_t i = 0; i < n; i++) Py_DECREF(series[i]);
    Py_XDECREF(names);
}

static void cache_drop(LogBuffer *self) {
    for (int i = 0; i < CACHE_ENTRIES; i++) cache_entry_drop(&self->cache[i]);
}

/* The entry holding the series of `names` (n of them; `key`: their kwnames tuple, or NULL) as of the
   current version, or NULL. The same tuple is found first; then the same str objects in order. */
static CacheEntry *cache_find(LogBuffer *self, PyObject *key, PyObject *const *names, Py_ssize_t n) {
    if (n > CACHE_METRICS) return NULL;
    for (int pass = key == NULL; pass < 2; pass++) {
        for (int j = 0; j < CACHE_ENTRIES; j++) {
            int k = (self->cache_last + j) % CACHE_ENTRIES;
            CacheEntry *e = &self->cache[k];
            if (e->names == NULL || e->version != self->version || e->n != n) continue;
            if (pass == 0) {
                if (e->names != key) continue;
            } else {
                PyObject **mine = ((PyTupleObject *)e->names)->ob_item;
                Py_ssize_t i = 0;
                while (i < n && mine[i] == names[i]) i++;
                if (i < n) continue;
            }
            self->cache_last = k;
            return e;
        }
    }
    return NULL;
}

/* Remember `series` as the series of `names` (a tuple, stolen) as of `version`. */
static void cache_put(LogBuffer *self, PyObject *names, Series **series, Py_ssize_t n) {
    CacheEntry *e = &self->cache[self->cache_next];
    self->cache_last = self->cache_next;
    self->cache_next = (self->cache_next + 1) % CACHE_ENTRIES;
    CacheEntry old = *e;
    for (Py_ssize_t i = 0; i < n; i++) e->series[i] = (Series *)Py_NewRef(series[i]);
    e->names = names;
    e->n = n;
    e->version = self->version;
    for (Py_ssize_t i = 0; i < old.n; i++) Py_DECREF(old.series[i]); /* last: may run code */
    Py_XDECREF(old.names);
}

static int logbuf_traverse(LogBuffer *self, visitproc visit, void *arg) {
    Py_VISIT(self->series);
    Py_VISIT(self->on_step);
    Py_VISIT(self->on_value);
    Py_VISIT(self->on_new);
    Py_VISIT(self->on_back);
    Py_VISIT(self->on_full);
    for (int k = 0; k < CACHE_ENTRIES; k++) {
        Py_VISIT(self->cache[k].names);
        for (Py_ssize_t i = 0; i < self->cache[k].n; i++) Py_VISIT(self->cache[k].series[i]);
    }
    return 0;
}

static int logbuf_clear_refs(LogBuffer *self) {
    self->version++;
    cache_drop(self);
    Py_CLEAR(self->series);
    Py_CLEAR(self->floor_beyond);
    Py_CLEAR(self->on_step);
    Py_CLEAR(self->on_value);
    Py_CLEAR(self->on_new);
    Py_CLEAR(self->on_back);
    Py_CLEAR(self->on_full);
    return 0;
}

static void logbuf_dealloc(LogBuffer *self) {
    PyObject_GC_UnTrack(self);
    logbuf_clear_refs(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *logbuf_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    LogBuffer *self = (LogBuffer *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->series = PyDict_New(); /* usable (empty, no callbacks called) even if __init__ never runs */
    if (self->series == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    self->capacity = 1;
    self->on_step = Py_NewRef(Py_None);
    self->on_value = Py_NewRef(Py_None);
    self->on_new = Py_NewRef(Py_None);
    self->on_back = Py_NewRef(Py_None);
    self->on_full = Py_NewRef(Py_None);
    return (PyObject *)self;
}

static int logbuf_init(LogBuffer *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"capacity", "on_step", "on_value", "on_new", "on_back", "on_full", NULL};
    Py_ssize_t capacity;
    PyObject *on_step, *on_value, *on_new, *on_back, *on_full;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "nOOOOO", kwlist, &capacity, &on_step, &on_value, &on_new,
                                     &on_back, &on_full))
        return -1;
    if (capacity < 1 || capacity > MAX_CAPACITY) {
        PyErr_Format(PyExc_ValueError, "capacity must be between 1 and %zd.", MAX_CAPACITY);
        return -1;
    }
    self->version++;
    cache_drop(self);
    PyDict_Clear(self->series);
    self->capacity = capacity;
    self->floor = 0;
    Py_CLEAR(self->floor_beyond);
    self->closed = 0;
    Py_XSETREF(self->on_step, Py_NewRef(on_step));
    Py_XSETREF(self->on_value, Py_NewRef(on_value));
    Py_XSETREF(self->on_new, Py_NewRef(on_new));
    Py_XSETREF(self->on_back, Py_NewRef(on_back));
    Py_XSETREF(self->on_full, Py_NewRef(on_full));
    return 0;
}

#define MAX_STACK_METRICS 32

/* The checked step of a call (a new reference) and its value in *step, or NULL. */
static PyObject *checked_step(LogBuffer *self, PyObject *arg, long long *step) {
    int slow = self->closed || self->floor_beyond != NULL || !PyLong_CheckExact(arg);
    PyObject *step_obj = Py_NewRef(arg);
    if (!slow) {
        int overflow = 0;
        *step = PyLong_AsLongLongAndOverflow(step_obj, &overflow);
        slow = overflow || *step < self->floor;
    }
    if (slow) { /* a step that is not an int, a purge, or a finalized recorder */
        PyObject *checked = PyObject_CallOneArg(self->on_step, step_obj);
        Py_DECREF(step_obj);
        if (checked == NULL) return NULL;
        step_obj = checked;
        *step = PyLong_AsLongLong(step_obj);
        if (*step == -1 && PyErr_Occurred()) {
            Py_DECREF(step_obj);
            return NULL;
        }
    }
    return step_obj;
}

/* One call's work: `n` metrics `names` (their kwnames tuple `key`, or NULL) with `values` at the checked
   step. Every name and value is held by the caller for the whole call. */
static PyObject *log_core(LogBuffer *self, PyObject *step_obj, long long step, PyObject *key,
                          PyObject *const *names, PyObject *const *values, Py_ssize_t nkw) {
    /* per metric: its checked value (a new reference, or NULL for an exact float), its series (a new
       reference) and whether this call created that series (not a reference) */
    PyObject *stack[3 * MAX_STACK_METRICS];
    PyObject **converted = nkw <= MAX_STACK_METRICS ? stack : PyMem_Calloc(3 * nkw, sizeof(PyObject *));
    if (converted == NULL) return PyErr_NoMemory();
    Series **series = (Series **)(converted + nkw);
    PyObject **created = converted + 2 * nkw;
    PyObject *result = NULL;
    Py_ssize_t i, n_created = 0;
    for (i = 0; i < 3 * nkw; i++) converted[i] = NULL;
    /* 1. every value that is not an exact float is checked (or converted) by on_value */
    for (i = 0; i < nkw; i++) {
        PyObject *value = values[i];
        if (PyFloat_CheckExact(value)) continue;
        PyObject *call_args[3] = {names[i], value, step_obj};
        converted[i] = PyObject_Vectorcall(self->on_value, call_args, 3, NULL);
        if (converted[i] == NULL) goto done;
    }
    /* 2. every metric gets its series (creating one may run a GC, so nothing is reserved yet); a new
       series asks on_new for the metric's floor (and whether its name is acceptable) */
    CacheEntry *hit = nkw > 0 ? cache_find(self, key, names, nkw) : NULL;
    int cached = hit != NULL;
    for (i = 0; cached && i < nkw; i++) series[i] = (Series *)Py_NewRef(hit->series[i]);
    for (i = 0; !cached && i < nkw; i++) {
        PyObject *name = names[i];
        Series *s = (Series *)PyDict_GetItemWithError(self->series, name);
        if (s != NULL) {
            Py_INCREF(s);
        } else {
            if (PyErr_Occurred()) goto undo;
            PyObject *floor_obj = PyObject_CallOneArg(self->on_new, name);
            if (floor_obj == NULL) goto undo;
            long long floor = PyLong_AsLongLong(floor_obj);
            Py_DECREF(floor_obj);
            if (floor == -1 && PyErr_Occurred()) goto undo;
            s = (Series *)PyDict_GetItemWithError(self->series, name); /* on_new may have run anything */
            if (s != NULL) {
                Py_INCREF(s);
                series[i] = s;
                continue;
            }
            if (PyErr_Occurred()) goto undo;
            s = series_new(self->capacity);
            if (s == NULL) goto undo;
            s->floor = floor;
            self->version++;
            if (PyDict_SetItem(self->series, name, (PyObject *)s) < 0) {
                Py_DECREF(s);
                goto undo;
            }
            created[i] = (PyObject *)s;
            n_created++;
        }
        series[i] = s;
    }
    unsigned long long looked_up = self->version; /* series[] are the dict's own as of this version */
    /* 2b. a metric logged below its own last step: on_back purges that metric's stale tail */
    for (i = 0; i < nkw; i++) {
        if (step >= series[i]->floor) continue;
        PyObject *call_args[2] = {names[i], step_obj};
        PyObject *r = PyObject_Vectorcall(self->on_back, call_args, 2, NULL);
        if (r == NULL) goto undo;
        Py_DECREF(r);
        series[i]->floor = step;
    }
    /* 3. room for every point (allocates nothing GC-tracked: no code runs from here to the store) */
    for (i = 0; i < nkw; i++) {
        PyObject *value = converted[i] != NULL ? converted[i] : values[i];
        if (series_reserve(series[i], !PyFloat_Check(value)) < 0) goto undo;
    }
    /* 4. store: allocates nothing, cannot fail */
    int full = 0;
    for (i = 0; i < nkw; i++) {
        series_store(series[i], step, converted[i] != NULL ? converted[i] : values[i]);
        if (series[i]->n >= self->capacity) full = 1;
    }
    if (!cached && nkw > 0 && nkw <= CACHE_METRICS && self->version == looked_up) {
        PyObject *tuple = key != NULL ? Py_NewRef(key) : PyTuple_New(nkw);
        if (tuple == NULL) {
            PyErr_Clear(); /* the point is stored: only the memo is lost */
        } else {
            if (key == NULL)
                for (i = 0; i < nkw; i++) PyTuple_SET_ITEM(tuple, i, Py_NewRef(names[i]));
            if (self->version == looked_up) /* the tuple's allocation may have run code */
                cache_put(self, tuple, series, nkw);
            else
                Py_DECREF(tuple);
        }
    }
    if (full) {
        result = PyObject_CallNoArgs(self->on_full);
        if (result == NULL) goto done;
        Py_DECREF(result);
    }
    result = Py_NewRef(Py_None);
    goto done;
undo: /* a metric first seen in this call leaves no trace */
    if (n_created) {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        for (i = 0; i < nkw; i++) {
            PyObject *name = names[i];
            if (created[i] != NULL && PyDict_GetItem(self->series, name) == created[i]) {
                self->version++;
                PyDict_DelItem(self->series, name);
            }
        }
        PyErr_Restore(type, value, traceback);
    }
done:
    for (i = 0; i < 2 * nkw; i++) Py_XDECREF(converted[i]); /* the values and the series held */
    if (converted != stack) PyMem_Free(converted);
    return result;
}

/* log(step, mapping): the metrics of a dict, held (names and values) while the call runs. */
static PyObject *log_mapping(LogBuffer *self, PyObject *step_obj, long long step, PyObject *mapping) {
    Py_ssize_t n = PyDict_GET_SIZE(mapping);
    PyObject *stack[2 * MAX_STACK_METRICS];
    PyObject **items = n <= MAX_STACK_METRICS ? stack : PyMem_Calloc(2 * n, sizeof(PyObject *));
    if (items == NULL) return PyErr_NoMemory();
    PyObject *name, *value;
    Py_ssize_t pos = 0, k = 0;
    while (k < n && PyDict_Next(mapping, &pos, &name, &value)) {
        items[k] = Py_NewRef(name);
        items[n + k] = Py_NewRef(value);
        k++;
    }
    PyObject *result;
    if (k != n) {
        PyErr_SetString(PyExc_RuntimeError, "the metrics dict changed size during log().");
        result = NULL;
    } else {
        result = log_core(self, step_obj, step, NULL, items, items + n, n);
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        Py_DECREF(items[i]);
        Py_DECREF(items[n + i]);
    }
    if (items != stack) PyMem_Free(items);
    return result;
}

static PyObject *logbuf_log(LogBuffer *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    if (nargs != 1 && !(nargs == 2 && nkw == 0 && PyDict_CheckExact(args[1]))) {
        PyErr_Format(PyExc_TypeError,
                     "log() takes the step and the metrics as keywords, or the step and one dict as its two "
                     "positional arguments: log(step, loss=0.5) or log(step, {'loss': 0.5}); got %zd positional "
                     "arguments%s.", nargs,
                     nargs == 2 && nkw ? " and keywords" : "");
        return NULL;
    }
    long long step = -1;
    PyObject *step_obj = checked_step(self, args[0], &step);
    if (step_obj == NULL) return NULL;
    PyObject *result = nargs == 2 ? log_mapping(self, step_obj, step, args[1])
                                  : log_core(self, step_obj, step, kwnames,
                                             nkw ? ((PyTupleObject *)kwnames)->ob_item : NULL, args + 1, nkw);
    Py_DECREF(step_obj);
    return result;
}

static PyObject *logbuf_sizes_or_chunks(LogBuffer *self, int chunks) {
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(self->series, &pos, &name, &value)) {
        Series *s = (Series *)value;
        if (s->n == 0) continue;
        Py_INCREF(name);
        Py_INCREF(s); /* series_read may run a GC, and that code may change the dict */
        PyObject *item = chunks ? series_read(s, 0, s->n) : PyLong_FromSsize_t(s->n);
        int rc = item == NULL ? -1 : PyDict_SetItem(out, name, item);
        Py_XDECREF(item);
        Py_DECREF(s);
        Py_DECREF(name);
        if (rc < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

static PyObject *logbuf_sizes(LogBuffer *self, PyObject *Py_UNUSED(ignored)) {
    return logbuf_sizes_or_chunks(self, 0);
}

static PyObject *logbuf_read(LogBuffer *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "read(name, start, stop) takes 3 arguments.");
        return NULL;
    }
    Py_ssize_t start = PyNumber_AsSsize_t(args[1], NULL); /* clamped, like a slice */
    if (start == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t stop = PyNumber_AsSsize_t(args[2], NULL);
    if (stop == -1 && PyErr_Occurred()) return NULL;
    Series *s = (Series *)PyDict_GetItemWithError(self->series, args[0]);
    if (s == NULL) {
        if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, args[0]);
        return NULL;
    }
    Py_INCREF(s);
    PyObject *out = series_read(s, start, stop);
    Py_DECREF(s);
    return out;
}

static PyObject *logbuf_take(LogBuffer *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *out = logbuf_sizes_or_chunks(self, 1);
    if (out == NULL) return NULL;
    /* only once every chunk is out: empty the buffers */
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(self->series, &pos, &name, &value)) {
        Series *s = (Series *)Py_NewRef(value); /* the reset's decrefs may run code */
        series_reset(s);
        Py_DECREF(s);
    }
    return out;
}

static PyObject *logbuf_clear(LogBuffer *self, PyObject *Py_UNUSED(ignored)) {
    self->version++;
    cache_drop(self);
    PyDict_Clear(self->series);
    Py_RETURN_NONE;
}

static PyObject *logbuf_get_floor(LogBuffer *self, void *closure) {
    if (self->floor_beyond != NULL) return Py_NewRef(self->floor_beyond);
    return PyLong_FromLongLong(self->floor);
}

static int logbuf_set_floor(LogBuffer *self, PyObject *value, void *closure) {
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "floor cannot be deleted.");
        return -1;
    }
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "floor must be an int, got %.100s.", Py_TYPE(value)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long floor = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (floor == -1 && PyErr_Occurred()) return -1;
    /* past the last int64 step (load_state_dict after step 2**63 - 1): every step is below it */
    Py_XSETREF(self->floor_beyond, overflow > 0 ? Py_NewRef(value) : NULL);
    self->floor = overflow > 0 ? LLONG_MAX : overflow < 0 ? LLONG_MIN : floor;
    return 0;
}

static PyObject *logbuf_get_closed(LogBuffer *self, void *closure) { return PyBool_FromLong(self->closed); }

static int logbuf_set_closed(LogBuffer *self, PyObject *value, void *closure) {
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "closed cannot be deleted.");
        return -1;
    }
    int closed = PyObject_IsTrue(value);
    if (closed < 0) return -1;
    self->closed = closed;
    return 0;
}

static PyObject *logbuf_get_capacity(LogBuffer *self, void *closure) { return PyLong_FromSsize_t(self->capacity); }

/* -- Handle: one metric's own log(step, value) ------------------------------------------- */
/* h = buffer.line(name) is the bound method log of a Handle: h(step, x) appends an exact float at an
   exact int step to the metric's series directly while nothing else is due (the series it holds is
   still the dict's: the buffer's version is the one it saw; the step is at or above both floors; the
   series has room; not closed). Anything else is the buffer's log(step, {name: x}), after which the
   handle takes the dict's series again. Each fast call stores exactly what log() would. */
typedef struct {
    PyObject_HEAD
    LogBuffer *buf;
    PyObject *name;
    Series *series;             /* the dict's series for name as of `version`, or NULL */
    unsigned long long version;
} Handle;

static int handle_traverse(Handle *self, visitproc visit, void *arg) {
    Py_VISIT(self->buf);
    Py_VISIT(self->name);
    Py_VISIT(self->series);
    return 0;
}

static int handle_clear(Handle *self) {
    Py_CLEAR(self->series);
    Py_CLEAR(self->name);
    Py_CLEAR(self->buf);
    return 0;
}

static void handle_dealloc(Handle *self) {
    PyObject_GC_UnTrack(self);
    handle_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Take the dict's series for the name again (after a call that may have changed it). */
static void handle_refresh(Handle *h) {
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback); /* the call's own error, if any, is kept */
    LogBuffer *b = h->buf;
    PyObject *s = b->series != NULL ? PyDict_GetItemWithError(b->series, h->name) : NULL;
    if (s == NULL) PyErr_Clear();
    Py_XINCREF(s);
    Py_XSETREF(h->series, (Series *)s);
    h->version = b->version;
    PyErr_Restore(type, value, traceback);
}

static PyObject *handle_log(Handle *h, PyObject *const *args, Py_ssize_t nargs) {
    LogBuffer *b = h->buf;
    if (b == NULL || b->series == NULL) { /* cleared by a collection (a finalizer calling it) */
        PyErr_SetString(PyExc_RuntimeError, "this line's recorder is gone; make a new line.");
        return NULL;
    }
    if (nargs == 2) {
        Series *s = h->series;
        PyObject *st = args[0], *v = args[1];
        if (s != NULL && h->version == b->version && PyFloat_CheckExact(v) && PyLong_CheckExact(st) &&
            !b->closed && b->floor_beyond == NULL && s->n < s->cap) {
            int overflow = 0;
            long long step = PyLong_AsLongLongAndOverflow(st, &overflow);
            if (!overflow && step >= b->floor && step >= s->floor) {
                s->values[s->n] = PyFloat_AS_DOUBLE(v);
                s->steps[s->n] = step;
                s->floor = step;
                s->n++;
                if (s->n >= b->capacity) {
                    PyObject *r = PyObject_CallNoArgs(b->on_full);
                    handle_refresh(h);
                    if (r == NULL) return NULL;
                    Py_DECREF(r);
                }
                Py_RETURN_NONE;
            }
        }
    } else {
        PyErr_Format(PyExc_TypeError, "a line takes (step, value), e.g. line(step, 0.5); got %zd arguments.",
                     nargs);
        return NULL;
    }
    Py_INCREF(h); /* the call below may run code that drops the last other reference */
    long long step = -1;
    PyObject *result = NULL;
    PyObject *step_obj = checked_step(b, args[0], &step);
    if (step_obj != NULL) {
        result = log_core(b, step_obj, step, NULL, &h->name, args + 1, 1);
        Py_DECREF(step_obj);
    }
    handle_refresh(h);
    Py_DECREF(h);
    return result;
}

static PyMethodDef handle_methods[] = {
    {"log", (PyCFunction)(void (*)(void))handle_log, METH_FASTCALL, "log(step, value): one metric's point."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject HandleType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "curvewatch.recorder._clogbuf.Handle",
    .tp_basicsize = sizeof(Handle),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One metric of a LogBuffer (internal): use buffer.line(name).",
    .tp_traverse = (traverseproc)handle_traverse,
    .tp_clear = (inquiry)handle_clear,
    .tp_dealloc = (destructor)handle_dealloc,
    .tp_methods = handle_methods,
};

static PyObject *logbuf_line(LogBuffer *self, PyObject *name) {
    Handle *h = PyObject_GC_New(Handle, &HandleType);
    if (h == NULL) return NULL;
    h->buf = (LogBuffer *)Py_NewRef(self);
    h->name = Py_NewRef(name);
    h->series = NULL;
    h->version = 0;
    handle_refresh(h);
    PyObject_GC_Track(h);
    PyObject *method = PyObject_GetAttrString((PyObject *)h, "log");
    Py_DECREF(h);
    return method;
}

static PyMethodDef logbuf_methods[] = {
    {"log", (PyCFunction)(void (*)(void))logbuf_log, METH_FASTCALL | METH_KEYWORDS,
     "log(step, /, **metrics): buffer one value per metric at step."},
    {"line", (PyCFunction)logbuf_line, METH_O, "line(name) -> f(step, value): the fast way to log one metric."},
    {"sizes", (PyCFunction)logbuf_sizes, METH_NOARGS, "sizes() -> {metric: buffered values}, non-empty only."},
    {"read", (PyCFunction)(void (*)(void))logbuf_read, METH_FASTCALL,
     "read(name, start, stop) -> (steps bytes, values bytes, [(index, object)]) without consuming."},
    {"take", (PyCFunction)logbuf_take, METH_NOARGS, "take() -> {metric: read(...)} of every buffer, emptied."},
    {"clear", (PyCFunction)logbuf_clear, METH_NOARGS, "clear(): forget every buffered value."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef logbuf_getset[] = {
    {"floor", (getter)logbuf_get_floor, (setter)logbuf_set_floor, "log() calls on_step below this step.", NULL},
    {"closed", (getter)logbuf_get_closed, (setter)logbuf_set_closed, "log() always calls on_step when set.",
     NULL},
    {"capacity", (getter)logbuf_get_capacity, NULL, "values of one metric that trigger on_full.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject LogBufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "curvewatch.recorder._clogbuf.LogBuffer",
    .tp_basicsize = sizeof(LogBuffer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
.tp_doc = "LogBuffer(capacity, on_step, on_value, on_new, on_back, on_full): CurveRecorder.log()'s buffer, "
              "compiled.",
    .tp_traverse = (traverseproc)logbuf_traverse,
    .tp_clear = (inquiry)logbuf_clear_refs,
    .tp_dealloc = (destructor)logbuf_dealloc,
    .tp_init = (initproc)logbuf_init,
    .tp_new = logbuf_new,
    .tp_methods = logbuf_methods,
    .tp_getset = logbuf_getset,
};

static struct PyModuleDef clogbuf_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "curvewatch.recorder._clogbuf",
    .m_doc = "CurveRecorder.log()'s hot path, compiled (see _logbuf.py for the pure-Python twin).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__clogbuf(void) {
    if (PyType_Ready(&SeriesType) < 0 || PyType_Ready(&HandleType) < 0 || PyType_Ready(&LogBufferType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&clogbuf_module);
    if (m == NULL) return NULL;
    Py_INCREF(&LogBufferType);
    if (PyModule_AddObject(m, "LogBuffer", (PyObject *)&LogBufferType) < 0) {
        Py_DECREF(&LogBufferType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
