/* TfIdfVectorizer: counts the n-grams of pool_int64s / pool_strings found
 * in each row of the input (int32, int64 or string) and weighs the counts.
 *
 * The pool lists all 1-grams, then all 2-grams, ...; ngram_counts[i] is
 * where the (i+1)-grams start. Every pool n-gram has an id in that order
 * and ngram_indexes[id] is its output column. Only n-grams with
 * min_gram_length <= n <= max_gram_length count. An n-gram with skip s
 * takes items start, start+s+1, ...: rows are scanned for every skip
 * distance d = 1 .. max_skip_count+1, unigrams only once. Pool n-grams live
 * in a hash table keyed by their items, so a lookup costs O(n) whatever
 * the pool size; a repeated pool n-gram maps to its last id, as in the
 * reference implementation. */
#include "ops/families.h"

#include <string.h>

typedef enum tf_mode { TF_TF, TF_IDF, TF_TFIDF } tf_mode;

typedef struct tf_entry {
    int64_t start; /* first item in the pool; -1 = empty slot */
    int64_t n;
    int64_t column;
} tf_entry;

typedef struct tf_params {
    int64_t min_n, max_n, max_skip;
    tf_mode mode;
    bool strings;
    const int64_t *pool_i;
    char *const *pool_s;
    const float *weights;
    size_t n_weights;
    int64_t out_size;
    int64_t longest; /* largest n-gram size in the table */
    tf_entry *table;
    size_t cap; /* power of two */
} tf_params;

static void tf_free(void *params)
{
    tf_params *p = params;
    if (p)
        kn_free(p->table);
    kn_free(p);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Items of an n-gram: from the pool (stride 1) or an input row. */
typedef struct tf_items {
    const int64_t *ints; /* int64 pool */
    const int32_t *i32;
    char *const *strs;
    int64_t first, stride;
} tf_items;

static bool items_strings(const tf_items *a)
{
    return a->strs != NULL;
}

static int64_t item_int(const tf_items *a, int64_t k)
{
    int64_t at = a->first + k * a->stride;
    return a->ints ? a->ints[at] : a->i32[at];
}

static const char *item_str(const tf_items *a, int64_t k)
{
    const char *s = a->strs[a->first + k * a->stride];
    return s ? s : "";
}

static uint64_t items_hash(const tf_items *a, int64_t n)
{
    uint64_t h = (uint64_t)n;
    for (int64_t k = 0; k < n; k++)
        h = mix(h, items_strings(a) ? hash_str(item_str(a, k)) : (uint64_t)item_int(a, k));
    return h;
}

static bool items_equal(const tf_items *a, const tf_items *b, int64_t n)
{
    for (int64_t k = 0; k < n; k++) {
        if (items_strings(a) ? strcmp(item_str(a, k), item_str(b, k)) != 0 : item_int(a, k) != item_int(b, k))
            return false;
    }
    return true;
}

static tf_items pool_items(const tf_params *p, int64_t start)
{
    tf_items it = {.ints = p->pool_i, .strs = p->strings ? p->pool_s : NULL, .first = start, .stride = 1};
    return it;
}

/* Slot holding the n-gram, or the empty slot where it would go. */
static tf_entry *tf_slot(const tf_params *p, const tf_items *key, int64_t n)
{
    size_t mask = p->cap - 1, i = (size_t)items_hash(key, n) & mask;
    for (;; i = (i + 1) & mask) {
        tf_entry *e = &p->table[i];
        if (e->start < 0)
            return e;
        if (e->n == n) {
            tf_items other = pool_items(p, e->start);
            if (items_equal(key, &other, n))
                return e;
        }
    }
}

static kiln_status tf_build(const kn_node *node, tf_params *p, const int64_t *counts, size_t n_counts,
                            const int64_t *indexes, size_t n_indexes, int64_t total)
{
    int64_t id = 0, entries = 0;
    for (size_t i = 0; i < n_counts; i++) {
        int64_t start = counts[i], end = i + 1 < n_counts ? counts[i + 1] : total;
        if (start < 0 || end < start || end > total)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): ngram_counts must rise within the pool of %lld items",
                            node->name, node->op_type, (long long)total);
        int64_t size = (int64_t)i + 1;
        if (size >= p->min_n && size <= p->max_n)
            entries += (end - start) / size;
    }
    size_t cap = 16;
    while (cap < (size_t)entries * 2) {
        if (cap > SIZE_MAX / 4 / sizeof(tf_entry))
            return KN_NOMEM();
        cap *= 2;
    }
    p->cap = cap;
    p->table = kn_malloc(cap * sizeof(tf_entry));
    if (!p->table)
        return KN_NOMEM();
    for (size_t i = 0; i < cap; i++)
        p->table[i].start = -1;
    p->out_size = 0;
    for (size_t i = 0; i < n_indexes; i++) {
        if (indexes[i] < 0 || indexes[i] >= INT32_MAX)
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): ngram_indexes[%zu] = %lld is out of range", node->name,
                            node->op_type, i, (long long)indexes[i]);
        p->out_size = KN_MAX(p->out_size, indexes[i] + 1);
    }
    for (size_t i = 0; i < n_counts; i++) {
        int64_t start = counts[i], end = i + 1 < n_counts ? counts[i + 1] : total, size = (int64_t)i + 1;
        int64_t grams = (end - start) / size;
        bool used = size >= p->min_n && size <= p->max_n;
        for (int64_t g = 0; g < grams; g++, id++) {
            if (!used)
                continue;
            if ((uint64_t)id >= n_indexes)
                return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): n-gram %lld has no entry in ngram_indexes (%zu)",
                                node->name, node->op_type, (long long)id, n_indexes);
            tf_items key = pool_items(p, start + g * size);
            tf_entry *e = tf_slot(p, &key, size);
            *e = (tf_entry){start + g * size, size, indexes[id]};
            p->longest = KN_MAX(p->longest, size);
        }
    }
    return KILN_OK;
}

static kiln_status tf_parse(kn_node *n)
{
    tf_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    const char *mode = NULL;
    const int64_t *counts = NULL, *indexes = NULL;
    size_t n_counts = 0, n_indexes = 0, n_pool_i = 0, n_pool_s = 0;
    kiln_status s = kn_attr_require_int(n, "max_gram_length", &p->max_n);
    if (s == KILN_OK)
        s = kn_attr_require_int(n, "min_gram_length", &p->min_n);
    if (s == KILN_OK)
        s = kn_attr_require_int(n, "max_skip_count", &p->max_skip);
    if (s == KILN_OK)
        s = kn_attr_get_string(n, "mode", NULL, &mode);
    if (s == KILN_OK)
        s = kn_attr_get_ints(n, "ngram_counts", &counts, &n_counts);
    if (s == KILN_OK)
        s = kn_attr_get_ints(n, "ngram_indexes", &indexes, &n_indexes);
    if (s == KILN_OK)
        s = kn_attr_get_ints(n, "pool_int64s", &p->pool_i, &n_pool_i);
    if (s == KILN_OK)
        s = kn_attr_get_strings(n, "pool_strings", &p->pool_s, &n_pool_s);
    if (s == KILN_OK)
        s = kn_attr_get_floats(n, "weights", &p->weights, &p->n_weights);
    if (s == KILN_OK) {
        if (!mode || (strcmp(mode, "TF") && strcmp(mode, "IDF") && strcmp(mode, "TFIDF")))
            s = kn_error(KILN_ERROR_MODEL, "node '%s' (%s): mode must be TF, IDF or TFIDF, got '%s'", n->name,
                         n->op_type, mode ? mode : "(missing)");
        else
            p->mode = strcmp(mode, "TF") == 0 ? TF_TF : strcmp(mode, "IDF") == 0 ? TF_IDF : TF_TFIDF;
    }
    if (s == KILN_OK && (p->min_n < 1 || p->max_n < p->min_n || p->max_skip < 0))
        s = kn_error(KILN_ERROR_MODEL,
                     "node '%s' (%s): need 1 <= min_gram_length (%lld) <= max_gram_length (%lld), "
                     "max_skip_count (%lld) >= 0",
                     n->name, n->op_type, (long long)p->min_n, (long long)p->max_n, (long long)p->max_skip);
    if (s == KILN_OK && (n_pool_i > 0) == (n_pool_s > 0))
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (%s): exactly one of pool_int64s and pool_strings must be given",
                     n->name, n->op_type);
    if (s == KILN_OK && (n_counts == 0 || n_indexes == 0))
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (%s): ngram_counts and ngram_indexes are required", n->name,
                     n->op_type);
    p->strings = n_pool_s > 0;
    if (s == KILN_OK)
        s = tf_build(n, p, counts, n_counts, indexes, n_indexes, (int64_t)(n_pool_i + n_pool_s));
    if (s == KILN_OK && p->n_weights && p->n_weights < (size_t)p->out_size)
        s = kn_error(KILN_ERROR_MODEL, "node '%s' (%s): %zu weights for %lld output columns", n->name, n->op_type,
                     p->n_weights, (long long)p->out_size);
    if (s != KILN_OK) {
        tf_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static const kiln_dtype tf_types[] = {KILN_DTYPE_INT32, KILN_DTYPE_INT64, KILN_DTYPE_STRING, KILN_DTYPE_UNDEFINED};

static kiln_status tf_infer(kn_op_ctx *c)
{
    const tf_params *p = c->params;
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    const kiln_tensor *x = c->in[0];
    if ((x->dtype == KILN_DTYPE_STRING) != p->strings)
        return kn_error(KILN_ERROR_DTYPE, "node '%s' (%s): input is %s but the pool holds %s", c->node->name,
                        c->node->op_type, kiln_dtype_name(x->dtype), p->strings ? "strings" : "integers");
    if (x->rank > 2)
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input must be [C] or [B, C], got rank %d", c->node->name,
                        c->node->op_type, x->rank);
    int64_t dims[2] = {x->rank == 2 ? x->dims[0] : 0, p->out_size};
    return x->rank == 2 ? kn_set_output(c, 0, KILN_DTYPE_FLOAT, 2, dims)
                        : kn_set_output(c, 0, KILN_DTYPE_FLOAT, 1, dims + 1);
}

static kiln_status tf_run(kn_op_ctx *c)
{
    const tf_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    float *y = c->out[0]->data;
    int64_t rows = x->rank == 2 ? x->dims[0] : 1, cols = x->rank == 0 ? 1 : x->dims[x->rank - 1];
    int64_t out = p->out_size;
    memset(y, 0, (size_t)(rows * out) * sizeof(float));
    /* distances beyond the row cannot fit a second item */
    int64_t max_d = p->max_skip < cols ? p->max_skip + 1 : KN_MAX(cols, 1);
    for (int64_t r = 0; r < rows && cols > 0; r++) {
        float *row = y + r * out;
        int64_t start_n = p->min_n;
        for (int64_t d = 1; d <= max_d; d++) {
            for (int64_t s0 = 0; s0 < cols; s0++) {
                tf_items win = {.first = r * cols + s0, .stride = d};
                if (x->dtype == KILN_DTYPE_STRING)
                    win.strs = x->data;
                else if (x->dtype == KILN_DTYPE_INT64)
                    win.ints = x->data;
                else
                    win.i32 = x->data;
                for (int64_t n = start_n; n <= KN_MIN(p->max_n, p->longest); n++) {
                    if (s0 + (n - 1) * d >= cols)
                        break;
                    tf_entry *e = tf_slot(p, &win, n);
                    if (e->start >= 0)
                        row[e->column] += 1.0f;
                }
            }
            if (start_n == 1) {
                start_n = 2;
                if (start_n > p->max_n)
                    break;
            }
        }
    }
    int64_t total = rows * out;
    for (int64_t i = 0; i < total; i++) {
        float f = y[i], w = p->n_weights ? p->weights[i % out] : 1.0f;
        if (p->mode == TF_IDF)
            y[i] = f > 0 ? w : 0.0f;
        else if (p->mode == TF_TFIDF)
            y[i] = w * f;
    }
    return KILN_OK;
}

const kn_op kn_ops_tfidf[] = {
    {.domain = "", .name = "TfIdfVectorizer", .since_min = 9, .parse = tf_parse, .free_params = tf_free,
     .infer = tf_infer, .run = tf_run, .types = tf_types},
};
KN_FAMILY_COUNT(tfidf);
