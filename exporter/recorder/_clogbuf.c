/* The compiled log buffer: CurveRecorder.log()'s hot path in C.
 *
 * Same contract as the pure-Python LogBuffer in _logbuf.py (read that file first; the tests run
 * both and compare them). log(step, **metrics) is a vectorcall method: no kwargs dict is built,
 * an exact float is appended to its metric's int64/float64 arrays without a Python call, and
 * everything else goes to the recorder's callbacks:
 *   on_step(step)              a step that is not an exact int, is below `floor`, or `closed`
 *   on_value(name, value, step) a value that is not an exact float; returns a float, or the
 *                              object itself (a tensor), stored as NaN plus (index, object)
 *   on_full()                  a metric's buffer reached `capacity` values: fold now
 * Every value of a call is checked before any is stored, so a call that raises stores nothing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* -- Series: one metric's buffered points ------------------------------------------------ */
typedef struct {
    PyObject_HEAD
    Py_ssize_t n;
    Py_ssize_t cap;
    int64_t *steps;
    double *values;
    PyObject *objects; /* list of (index, object) for values kept as objects, or NULL */
} Series;

static int series_traverse(Series *self, visitproc visit, void *arg) {
    Py_VISIT(self->objects);
    return 0;
}

static int series_clear(Series *self) {
    Py_CLEAR(self->objects);
    return 0;
}

static void series_dealloc(Series *self) {
    PyObject_GC_UnTrack(self);
    series_clear(self);
    PyMem_Free(self->steps);
    PyMem_Free(self->values);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject SeriesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "exporter.recorder._clogbuf.Series",
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
    s->objects = NULL;
    s->steps = PyMem_Malloc(cap * sizeof(int64_t));
    s->values = PyMem_Malloc(cap * sizeof(double));
    if (s->steps == NULL || s->values == NULL) {
        PyMem_Free(s->steps);
        PyMem_Free(s->values);
        s->steps = NULL;
        s->values = NULL;
        Py_DECREF(s);
        PyErr_NoMemory();
        return NULL;
    }
    PyObject_GC_Track(s);
    return s;
}

/* Room for one more point; grows only when a fold failed and left the buffer full. */
static int series_reserve(Series *s) {
    if (s->n < s->cap) return 0;
    Py_ssize_t cap = s->cap * 2;
    int64_t *steps = PyMem_Realloc(s->steps, cap * sizeof(int64_t));
    if (steps == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    s->steps = steps;
    double *values = PyMem_Realloc(s->values, cap * sizeof(double));
    if (values == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    s->values = values;
    s->cap = cap;
    return 0;
}

/* Append one point: a float's value, or NaN plus (index, object) for anything else. */
static int series_append(Series *s, int64_t step, PyObject *value) {
    if (series_reserve(s) < 0) return -1;
    if (PyFloat_Check(value)) {
        s->values[s->n] = PyFloat_AS_DOUBLE(value);
    } else {
        if (s->objects == NULL && (s->objects = PyList_New(0)) == NULL) return -1;
        PyObject *pair = Py_BuildValue("(nO)", s->n, value);
        if (pair == NULL) return -1;
        int rc = PyList_Append(s->objects, pair);
        Py_DECREF(pair);
        if (rc < 0) return -1;
        s->values[s->n] = Py_NAN;
    }
    s->steps[s->n] = step;
    s->n++;
    return 0;
}

/* (steps bytes, values bytes, [(index - start, object), ...]) of points start..stop-1 */
static PyObject *series_read(Series *s, Py_ssize_t start, Py_ssize_t stop) {
    if (start < 0) start = 0;
    if (stop > s->n) stop = s->n;
    if (stop < start) stop = start;
    Py_ssize_t k = stop - start;
    PyObject *objects = PyList_New(0);
    if (objects == NULL) return NULL;
    if (s->objects != NULL) {
        Py_ssize_t m = PyList_GET_SIZE(s->objects);
        for (Py_ssize_t i = 0; i < m; i++) {
            PyObject *pair = PyList_GET_ITEM(s->objects, i);
            Py_ssize_t at = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 0));
            if (at < start || at >= stop) continue;
            PyObject *shifted = Py_BuildValue("(nO)", at - start, PyTuple_GET_ITEM(pair, 1));
            if (shifted == NULL || PyList_Append(objects, shifted) < 0) {
                Py_XDECREF(shifted);
                Py_DECREF(objects);
                return NULL;
            }
            Py_DECREF(shifted);
        }
    }
    PyObject *steps = PyBytes_FromStringAndSize((const char *)(s->steps + start), k * sizeof(int64_t));
    PyObject *values = PyBytes_FromStringAndSize((const char *)(s->values + start), k * sizeof(double));
    if (steps == NULL || values == NULL) {
        Py_XDECREF(steps);
        Py_XDECREF(values);
        Py_DECREF(objects);
        return NULL;
    }
    return Py_BuildValue("(NNN)", steps, values, objects);
}

/* -- LogBuffer ------------------------------------------------------------------------------ */
typedef struct {
    PyObject_HEAD
    PyObject *series; /* dict: metric name -> Series, in first-logged order */
    Py_ssize_t capacity;
    long long floor;
    int closed;
    PyObject *on_step;
    PyObject *on_value;
    PyObject *on_full;
} LogBuffer;

static int logbuf_traverse(LogBuffer *self, visitproc visit, void *arg) {
    Py_VISIT(self->series);
    Py_VISIT(self->on_step);
    Py_VISIT(self->on_value);
    Py_VISIT(self->on_full);
    return 0;
}

static int logbuf_clear_refs(LogBuffer *self) {
    Py_CLEAR(self->series);
    Py_CLEAR(self->on_step);
    Py_CLEAR(self->on_value);
    Py_CLEAR(self->on_full);
    return 0;
}

static void logbuf_dealloc(LogBuffer *self) {
    PyObject_GC_UnTrack(self);
    logbuf_clear_refs(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int logbuf_init(LogBuffer *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"capacity", "on_step", "on_value", "on_full", NULL};
    Py_ssize_t capacity;
    PyObject *on_step, *on_value, *on_full;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "nOOO", kwlist, &capacity, &on_step, &on_value, &on_full))
        return -1;
    if (capacity < 1) {
        PyErr_SetString(PyExc_ValueError, "capacity must be >= 1.");
        return -1;
    }
    PyObject *series = PyDict_New();
    if (series == NULL) return -1;
    Py_XSETREF(self->series, series);
    self->capacity = capacity;
    self->floor = 0;
    self->closed = 0;
    Py_INCREF(on_step);
    Py_XSETREF(self->on_step, on_step);
    Py_INCREF(on_value);
    Py_XSETREF(self->on_value, on_value);
    Py_INCREF(on_full);
    Py_XSETREF(self->on_full, on_full);
    return 0;
}

#define MAX_STACK_METRICS 32

static PyObject *logbuf_log(LogBuffer *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError,
                     "log() takes the step as its only positional argument and metrics as keywords, "
                     "e.g. log(step, loss=0.5); got %zd positional arguments.", nargs);
        return NULL;
    }
    if (self->series == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "LogBuffer.__init__ was not called.");
        return NULL;
    }
    long long step = -1;
    int slow = self->closed || !PyLong_CheckExact(args[0]);
    PyObject *step_obj = args[0];
    Py_INCREF(step_obj);
    if (!slow) {
        int overflow = 0;
        step = PyLong_AsLongLongAndOverflow(step_obj, &overflow);
        slow = overflow || step < self->floor;
    }
    if (slow) { /* a step that is not an int, a purge, or a finalized recorder */
        PyObject *checked = PyObject_CallOneArg(self->on_step, step_obj);
        Py_DECREF(step_obj);
        if (checked == NULL) return NULL;
        step = PyLong_AsLongLong(checked);
        step_obj = checked;
        if (step == -1 && PyErr_Occurred()) {
            Py_DECREF(step_obj);
            return NULL;
        }
    }
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    PyObject *stack[MAX_STACK_METRICS];
    PyObject **converted = nkw <= MAX_STACK_METRICS ? stack : PyMem_Calloc(nkw, sizeof(PyObject *));
    if (converted == NULL) {
        Py_DECREF(step_obj);
        return PyErr_NoMemory();
    }
    PyObject *result = NULL;
    Py_ssize_t i;
    for (i = 0; i < nkw; i++) converted[i] = NULL;
    /* first pass: every value that is not an exact float is checked (or converted) by on_value */
    for (i = 0; i < nkw; i++) {
        PyObject *value = args[1 + i];
        if (PyFloat_CheckExact(value)) continue;
        PyObject *call_args[3] = {PyTuple_GET_ITEM(kwnames, i), value, step_obj};
        converted[i] = PyObject_Vectorcall(self->on_value, call_args, 3, NULL);
        if (converted[i] == NULL) goto done;
    }
    /* second pass: store */
    int full = 0;
    for (i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        Series *s = (Series *)PyDict_GetItemWithError(self->series, name);
        if (s != NULL) {
            Py_INCREF(s); /* held while appending: an allocation may run a collection */
        } else {
            if (PyErr_Occurred()) goto done;
            s = series_new(self->capacity);
            if (s == NULL || PyDict_SetItem(self->series, name, (PyObject *)s) < 0) {
                Py_XDECREF(s);
                goto done;
            }
        }
        int rc = series_append(s, step, converted[i] != NULL ? converted[i] : args[1 + i]);
        if (s->n >= self->capacity) full = 1;
        Py_DECREF(s);
        if (rc < 0) goto done;
    }
    self->floor = step;
    if (full) {
        result = PyObject_CallNoArgs(self->on_full);
        if (result == NULL) goto done;
        Py_DECREF(result);
    }
    result = Py_NewRef(Py_None);
done:
    for (i = 0; i < nkw; i++) Py_XDECREF(converted[i]);
    if (converted != stack) PyMem_Free(converted);
    Py_DECREF(step_obj);
    return result;
}

static Series *logbuf_series(LogBuffer *self, PyObject *name) {
    Series *s = (Series *)PyDict_GetItemWithError(self->series, name);
    if (s == NULL && !PyErr_Occurred()) PyErr_Format(PyExc_KeyError, "%R", name);
    return s;
}

/* {name: item} over the non-empty series; item: its size, or (chunks) its whole read() */
static PyObject *logbuf_collect(LogBuffer *self, int chunks) {
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(self->series, &pos, &name, &value)) {
        Series *s = (Series *)value;
        if (s->n == 0) continue;
        PyObject *item = chunks ? series_read(s, 0, s->n) : PyLong_FromSsize_t(s->n);
        if (item == NULL || PyDict_SetItem(out, name, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(item);
    }
    return out;
}

static PyObject *logbuf_sizes(LogBuffer *self, PyObject *Py_UNUSED(ignored)) { return logbuf_collect(self, 0); }

static PyObject *logbuf_read(LogBuffer *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "read(name, start, stop) takes 3 arguments.");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t stop = PyLong_AsSsize_t(args[2]);
    if (stop == -1 && PyErr_Occurred()) return NULL;
    Series *s = logbuf_series(self, args[0]);
    if (s == NULL) return NULL;
    Py_INCREF(s);
    PyObject *out = series_read(s, start, stop);
    Py_DECREF(s);
    return out;
}

static PyObject *logbuf_take(LogBuffer *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *out = logbuf_collect(self, 1);
    if (out == NULL) return NULL;
    /* only once every chunk is out: empty the buffers */
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(self->series, &pos, &name, &value)) {
        Series *s = (Series *)value;
        s->n = 0;
        Py_CLEAR(s->objects);
    }
    return out;
}

static PyObject *logbuf_clear(LogBuffer *self, PyObject *Py_UNUSED(ignored)) {
    PyDict_Clear(self->series);
    Py_RETURN_NONE;
}

static PyObject *logbuf_get_floor(LogBuffer *self, void *closure) { return PyLong_FromLongLong(self->floor); }

static int logbuf_set_floor(LogBuffer *self, PyObject *value, void *closure) {
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "floor cannot be deleted.");
        return -1;
    }
    long long floor = PyLong_AsLongLong(value);
    if (floor == -1 && PyErr_Occurred()) return -1;
    self->floor = floor;
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

static PyMethodDef logbuf_methods[] = {
    {"log", (PyCFunction)(void (*)(void))logbuf_log, METH_FASTCALL | METH_KEYWORDS,
     "log(step, /, **metrics): buffer one value per metric at step."},
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
    .tp_name = "exporter.recorder._clogbuf.LogBuffer",
    .tp_basicsize = sizeof(LogBuffer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "LogBuffer(capacity, on_step, on_value, on_full): CurveRecorder.log()'s buffer, compiled.",
    .tp_traverse = (traverseproc)logbuf_traverse,
    .tp_clear = (inquiry)logbuf_clear_refs,
    .tp_dealloc = (destructor)logbuf_dealloc,
    .tp_init = (initproc)logbuf_init,
    .tp_new = PyType_GenericNew,
    .tp_methods = logbuf_methods,
    .tp_getset = logbuf_getset,
};

static struct PyModuleDef clogbuf_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "exporter.recorder._clogbuf",
    .m_doc = "CurveRecorder.log()'s hot path, compiled (see _logbuf.py for the pure-Python twin).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__clogbuf(void) {
    if (PyType_Ready(&SeriesType) < 0 || PyType_Ready(&LogBufferType) < 0) return NULL;
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
