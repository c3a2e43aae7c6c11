/* String ops: StringConcat, StringSplit, StringNormalizer, RegexFullMatch.
 *
 * Strings are NUL-terminated UTF-8, one char* per element. Outputs always
 * hold fresh copies (kn_strdup), never pointers borrowed from inputs: the
 * planner runs steps with STRING outputs as dynamic steps whose output
 * tensors own their strings (see plan.c), so every string has exactly one
 * owner. StringSplit's whitespace is ASCII; StringNormalizer maps case by
 * Unicode but does not strip accents as the Python reference does (through
 * NFKD normalization).
 *
 * RegexFullMatch takes RE2 syntax; kiln translates the common subset to
 * POSIX extended regular expressions (regex.h) and refuses the rest with
 * KILN_ERROR_UNSUPPORTED. A full match only asks whether some parse covers
 * the whole string, so POSIX's leftmost-longest and RE2's leftmost-first
 * semantics agree, and lazy quantifiers equal greedy ones. Matching is
 * byte-wise (C locale), so '.' matches one byte of a multi-byte character. */
#include "ops/families.h"

#include <locale.h>
#include <regex.h>
#include <string.h>
#include <wctype.h>

static const kiln_dtype str_types[] = {KILN_DTYPE_STRING, KILN_DTYPE_UNDEFINED};

static const char *elem(const kiln_tensor *t, int64_t i)
{
    const char *const *s = t->data;
    return s[i] ? s[i] : "";
}

/* Replace output element i by a copy of n bytes of s. */
static kiln_status put(kiln_tensor *o, int64_t i, const char *s, size_t n)
{
    char **d = o->data;
    char *copy = kn_strndup(s, n);
    if (!copy)
        return KN_NOMEM();
    kn_free(d[i]);
    d[i] = copy;
    return KILN_OK;
}

/* Output shapes that depend on string contents wait for the data. */
static bool data_unknown(const kiln_tensor *t)
{
    return !t->data && kn_tensor_count(t) > 0;
}

/* ---- StringConcat ------------------------------------------------------ */

static kiln_status concat_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 2, 2, 1, 1));
    KN_TRY(kn_check_dtype(c, 1, str_types));
    int r;
    int64_t dims[KN_MAX_RANK];
    KN_TRY(kn_broadcast_shape(c, c->in[0]->rank, c->in[0]->dims, c->in[1]->rank, c->in[1]->dims, &r, dims));
    return kn_set_output(c, 0, KILN_DTYPE_STRING, r, dims);
}

static kiln_status concat_run(kn_op_ctx *c)
{
    kiln_tensor *o = c->out[0];
    int r = o->rank;
    int64_t sa[KN_MAX_RANK], sb[KN_MAX_RANK], idx[KN_MAX_RANK] = {0};
    kn_broadcast_strides(c->in[0]->rank, c->in[0]->dims, r, o->dims, sa);
    kn_broadcast_strides(c->in[1]->rank, c->in[1]->dims, r, o->dims, sb);
    int64_t n = kn_tensor_count(o), ia = 0, ib = 0;
    for (int64_t i = 0; i < n; i++) {
        const char *a = elem(c->in[0], ia), *b = elem(c->in[1], ib);
        size_t la = strlen(a), lb = strlen(b), len;
        if (!kn_add_size(la, lb, &len))
            return KN_NOMEM();
        char **d = o->data;
        char *s = kn_malloc(len + 1);
        if (!s)
            return KN_NOMEM();
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
        kn_free(d[i]);
        d[i] = s;
        /* odometer over the output index, moving both input offsets */
        for (int k = r - 1; k >= 0; k--) {
            ia += sa[k];
            ib += sb[k];
            if (++idx[k] < o->dims[k])
                break;
            ia -= sa[k] * o->dims[k];
            ib -= sb[k] * o->dims[k];
            idx[k] = 0;
        }
    }
    return KILN_OK;
}

/* ---- StringSplit --------------------------------------------------------
 * Python's str.split: with a delimiter, every occurrence splits (empty
 * fields kept); without one (absent or ""), runs of whitespace split and
 * leading/trailing whitespace produces no fields. maxsplit < 0 is
 * unlimited; the remainder after maxsplit splits is one last field. */

typedef struct split_params {
    const char *delim; /* NULL: whitespace */
    int64_t maxsplit;
} split_params;

static kiln_status split_parse(kn_node *n)
{
    split_params *p = kn_malloc(sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = kn_attr_get_string(n, "delimiter", NULL, &p->delim);
    if (s == KILN_OK)
        s = kn_attr_get_int(n, "maxsplit", -1, &p->maxsplit);
    if (s != KILN_OK) {
        kn_free(p);
        return s;
    }
    if (p->delim && !p->delim[0])
        p->delim = NULL;
    n->params = p;
    return KILN_OK;
}

static bool is_space(char ch)
{
    /* str.split's ASCII whitespace, including the separators 0x1c..0x1f */
    return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f);
}

/* Calls emit(ctx, start, len) per field; returns the field count. */
typedef kiln_status (*field_fn)(void *ctx, int64_t k, const char *s, size_t n);

static kiln_status split_one(const split_params *p, const char *s, field_fn emit, void *ctx, int64_t *count)
{
    size_t len = strlen(s), i = 0;
    int64_t k = 0;
    uint64_t left = p->maxsplit < 0 ? UINT64_MAX : (uint64_t)p->maxsplit;
    if (!p->delim) {
        while (left-- > 0) {
            while (i < len && is_space(s[i]))
                i++;
            if (i == len)
                break;
            size_t j = i;
            while (i < len && !is_space(s[i]))
                i++;
            if (emit)
                KN_TRY(emit(ctx, k, s + j, i - j));
            k++;
        }
        while (i < len && is_space(s[i]))
            i++;
        if (i < len) {
            if (emit)
                KN_TRY(emit(ctx, k, s + i, len - i));
            k++;
        }
    } else {
        size_t dl = strlen(p->delim);
        for (; left > 0; left--) {
            const char *hit = strstr(s + i, p->delim);
            if (!hit)
                break;
            size_t at = (size_t)(hit - s);
            if (emit)
                KN_TRY(emit(ctx, k, s + i, at - i));
            k++;
            i = at + dl;
        }
        if (emit)
            KN_TRY(emit(ctx, k, s + i, len - i));
        k++;
    }
    *count = k;
    return KILN_OK;
}

static kiln_status split_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 2, 2));
    const kiln_tensor *x = c->in[0];
    if (x->rank + 1 > KN_MAX_RANK)
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): input rank %d leaves no room for the split axis",
                        c->node->name, c->node->op_type, x->rank);
    if (data_unknown(x))
        return KN_NEED_VALUE;
    int64_t n = kn_tensor_count(x), most = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t k;
        KN_TRY(split_one(c->params, elem(x, i), NULL, NULL, &k));
        most = KN_MAX(most, k);
    }
    int64_t dims[KN_MAX_RANK];
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    dims[x->rank] = most;
    KN_TRY(kn_set_output(c, 0, KILN_DTYPE_STRING, x->rank + 1, dims));
    return kn_set_output(c, 1, KILN_DTYPE_INT64, x->rank, x->dims);
}

typedef struct split_sink {
    kiln_tensor *o;
    int64_t base;
} split_sink;

static kiln_status split_emit(void *ctx, int64_t k, const char *s, size_t n)
{
    split_sink *sk = ctx;
    return put(sk->o, sk->base + k, s, n);
}

static kiln_status split_run(kn_op_ctx *c)
{
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0], *z = c->out[1];
    int64_t n = kn_tensor_count(x), width = y ? y->dims[y->rank - 1] : 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t k;
        split_sink sk = {y, i * width};
        KN_TRY(split_one(c->params, elem(x, i), y ? split_emit : NULL, &sk, &k));
        for (int64_t j = k; y && j < width; j++)
            KN_TRY(put(y, i * width + j, "", 0));
        if (z)
            ((int64_t *)z->data)[i] = k;
    }
    return KILN_OK;
}

/* ---- StringNormalizer ---------------------------------------------------
 * Drops elements equal to a stopword (case-insensitively unless
 * is_case_sensitive), then changes case. As the spec says, when nothing is
 * left the output is one empty string ([1] or [1, 1]). Case mapping is
 * Unicode's simple one (towupper_l/towlower_l in a private C.UTF-8 locale
 * object, so the process locale is neither read nor changed); bytes that
 * are not valid UTF-8 pass through. Without C.UTF-8, ASCII only. */

typedef enum case_action { CASE_NONE, CASE_LOWER, CASE_UPPER } case_action;

typedef struct norm_params {
    case_action action;
    int64_t case_sensitive;
    char *const *stop;
    size_t n_stop;
    char **stop_folded; /* lower-cased stopwords for the insensitive test */
    locale_t utf8;      /* (locale_t)0: ASCII mapping */
} norm_params;

static void norm_free(void *params)
{
    norm_params *p = params;
    if (!p)
        return;
    if (p->stop_folded)
        for (size_t k = 0; k < p->n_stop; k++)
            kn_free(p->stop_folded[k]);
    kn_free(p->stop_folded);
    if (p->utf8)
        freelocale(p->utf8);
    kn_free(p);
}

/* One code point from s (n bytes left); 0 if s does not start with a valid
 * UTF-8 sequence. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len = s[0] >= 0xf0 && s[0] < 0xf5 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
    if (!len || len > n)
        return 0;
    uint32_t v = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

static size_t utf8_encode(uint32_t v, char *o)
{
    if (v < 0x80) {
        o[0] = (char)v;
        return 1;
    }
    if (v < 0x800) {
        o[0] = (char)(0xc0 | v >> 6);
        o[1] = (char)(0x80 | (v & 0x3f));
        return 2;
    }
    if (v < 0x10000) {
        o[0] = (char)(0xe0 | v >> 12);
        o[1] = (char)(0x80 | (v >> 6 & 0x3f));
        o[2] = (char)(0x80 | (v & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | v >> 18);
    o[1] = (char)(0x80 | (v >> 12 & 0x3f));
    o[2] = (char)(0x80 | (v >> 6 & 0x3f));
    o[3] = (char)(0x80 | (v & 0x3f));
    return 4;
}

/* A case-changed copy of s (kn_malloc'd). A code point's case partner
 * takes at most 4 bytes and the point itself at least 1. */
static char *change_case(const norm_params *p, case_action action, const char *s)
{
    size_t n = strlen(s), cap;
    if (!kn_mul_size(n, 4, &cap) || !kn_add_size(cap, 1, &cap))
        return NULL;
    char *out = kn_malloc(action == CASE_NONE ? n + 1 : cap);
    if (!out || action == CASE_NONE) {
        if (out)
            memcpy(out, s, n + 1);
        return out;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, k = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = utf8_decode(u + i, n - i, &cp);
        if (!len) {
            out[k++] = s[i++];
            continue;
        }
        if (p->utf8)
            cp = (uint32_t)(action == CASE_UPPER ? towupper_l((wint_t)cp, p->utf8) : towlower_l((wint_t)cp, p->utf8));
        else if (cp < 0x80)
            cp = (uint32_t)(action == CASE_UPPER ? (cp >= 'a' && cp <= 'z' ? cp - 32 : cp)
                                                 : (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
        k += utf8_encode(cp, out + k);
        i += len;
    }
    out[k] = 0;
    return out;
}

static kiln_status norm_parse_into(kn_node *n, norm_params *p)
{
    const char *action;
    KN_TRY(kn_attr_get_string(n, "case_change_action", "NONE", &action));
    if (strcmp(action, "NONE") == 0)
        p->action = CASE_NONE;
    else if (strcmp(action, "LOWER") == 0)
        p->action = CASE_LOWER;
    else if (strcmp(action, "UPPER") == 0)
        p->action = CASE_UPPER;
    else
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): case_change_action '%s' is not NONE, LOWER or UPPER",
                        n->name, n->op_type, action);
    KN_TRY(kn_attr_get_int(n, "is_case_sensitive", 0, &p->case_sensitive));
    KN_TRY(kn_attr_get_strings(n, "stopwords", &p->stop, &p->n_stop));
    const char *locale;
    KN_TRY(kn_attr_get_string(n, "locale", "", &locale)); /* Unicode's mapping serves every locale but Turkic ones */
    p->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (!p->case_sensitive && p->n_stop) {
        p->stop_folded = kn_calloc(p->n_stop, sizeof(char *));
        if (!p->stop_folded)
            return KN_NOMEM();
        for (size_t k = 0; k < p->n_stop; k++)
            if (!(p->stop_folded[k] = change_case(p, CASE_LOWER, p->stop[k])))
                return KN_NOMEM();
    }
    return KILN_OK;
}

static kiln_status norm_parse(kn_node *n)
{
    norm_params *p = kn_calloc(1, sizeof *p);
    if (!p)
        return KN_NOMEM();
    kiln_status s = norm_parse_into(n, p);
    if (s != KILN_OK) {
        norm_free(p);
        return s;
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status is_stopword(const norm_params *p, const char *s, bool *stop)
{
    *stop = false;
    if (!p->n_stop)
        return KILN_OK;
    char *folded = NULL;
    if (!p->case_sensitive && !(folded = change_case(p, CASE_LOWER, s)))
        return KN_NOMEM();
    for (size_t k = 0; k < p->n_stop && !*stop; k++)
        *stop = folded ? strcmp(folded, p->stop_folded[k]) == 0 : strcmp(s, p->stop[k]) == 0;
    kn_free(folded);
    return KILN_OK;
}

static kiln_status norm_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    const kiln_tensor *x = c->in[0];
    if (x->rank != 1 && !(x->rank == 2 && x->dims[0] == 1))
        return kn_error(KILN_ERROR_SHAPE, "node '%s' (%s): input must be [C] or [1, C], got rank %d", c->node->name,
                        c->node->op_type, x->rank);
    if (data_unknown(x))
        return KN_NEED_VALUE;
    int64_t n = kn_tensor_count(x), kept = 0;
    for (int64_t i = 0; i < n; i++) {
        bool stop;
        KN_TRY(is_stopword(c->params, elem(x, i), &stop));
        kept += !stop;
    }
    int64_t dims[2] = {1, kept ? kept : 1};
    return x->rank == 1 ? kn_set_output(c, 0, KILN_DTYPE_STRING, 1, dims + 1)
                        : kn_set_output(c, 0, KILN_DTYPE_STRING, 2, dims);
}

static kiln_status norm_run(kn_op_ctx *c)
{
    const norm_params *p = c->params;
    const kiln_tensor *x = c->in[0];
    kiln_tensor *y = c->out[0];
    char **d = y->data;
    int64_t n = kn_tensor_count(x), k = 0;
    for (int64_t i = 0; i < n; i++) {
        const char *s = elem(x, i);
        bool stop;
        KN_TRY(is_stopword(p, s, &stop));
        if (stop)
            continue;
        char *t = change_case(p, p->action, s);
        if (!t)
            return KN_NOMEM();
        kn_free(d[k]);
        d[k++] = t;
    }
    if (k == 0)
        KN_TRY(put(y, 0, "", 0));
    return KILN_OK;
}

/* ---- RegexFullMatch ----------------------------------------------------- */

typedef struct rx_params {
    regex_t re;
} rx_params;

static void rx_free(void *params)
{
    rx_params *p = params;
    if (p)
        regfree(&p->re);
    kn_free(p);
}

/* Growable output for the translated pattern. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool nomem;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->nomem)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 64) + n;
        char *t = kn_realloc(b->s, cap);
        if (!t) {
            b->nomem = true;
            return;
        }
        b->s = t;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Perl class escapes as the POSIX bracket-expression items they stand for
 * (NULL if c is not one); *negated for the upper-case forms. */
static const char *class_items(char ch, bool *negated)
{
    *negated = ch == 'D' || ch == 'W' || ch == 'S';
    switch (ch) {
    case 'd': case 'D': return "[:digit:]";
    case 'w': case 'W': return "[:alnum:]_";
    case 's': case 'S': return "[:space:]";
    default: return NULL;
    }
}

/* Character an escape like \n stands for, or 0. */
static char control_escape(char ch)
{
    switch (ch) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'f': return '\f';
    case 'v': return '\v';
    case 'a': return '\a';
    default: return 0;
    }
}

static bool is_punct_escape(char ch)
{
    return ch && strchr("\\.^$|?*+()[]{}/-=!@#%&~`'\",:;<>_", ch) != NULL;
}

/* A bracket expression [...] starting at p[*i] == '['. POSIX brackets take
 * no escapes, so items are collected and written back in an order POSIX
 * reads literally: ']' first, '-' last, '^' not first. */
static kiln_status rx_bracket(const kn_node *n, const char *p, size_t *i, sbuf *out)
{
    size_t k = *i + 1;
    bool negate = false, has_rbracket = false, has_dash = false, has_caret = false;
    sbuf items = {0};
    if (p[k] == '^') {
        negate = true;
        k++;
    }
    bool first = true;
    for (;; first = false) {
        char ch = p[k];
        if (!ch) {
            kn_free(items.s);
            return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): pattern has an unterminated '['", n->name,
                            n->op_type);
        }
        if (ch == ']' && !first)
            break;
        char lit = 0;
        if (ch == '[' && p[k + 1] == ':') {
            const char *end = strstr(p + k + 2, ":]");
            if (!end) {
                kn_free(items.s);
                return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): pattern has an unterminated '[:'", n->name,
                                n->op_type);
            }
            sb_add(&items, p + k, (size_t)(end + 2 - (p + k)));
            k = (size_t)(end + 2 - p);
            continue;
        }
        if (ch == '\\') {
            char e = p[k + 1];
            bool neg;
            const char *cls = class_items(e, &neg);
            if (cls && !neg) {
                sb_str(&items, cls);
                k += 2;
                continue;
            }
            if (control_escape(e))
                lit = control_escape(e);
            else if (is_punct_escape(e))
                lit = e;
            else {
                kn_free(items.s);
                return kn_error(KILN_ERROR_UNSUPPORTED,
                                "node '%s' (%s): escape '\\%c' inside [...] is not supported by kiln's regex "
                                "translation",
                                n->name, n->op_type, e ? e : '0');
            }
            k += 2;
        } else {
            lit = ch;
            k++;
        }
        /* a range lit-hi (hi literal or escaped) */
        if (p[k] == '-' && p[k + 1] && p[k + 1] != ']') {
            char hi = p[k + 1];
            size_t adv = 2;
            if (hi == '\\') {
                char e = p[k + 2];
                hi = control_escape(e) ? control_escape(e) : is_punct_escape(e) ? e : 0;
                adv = 3;
                if (!hi) {
                    kn_free(items.s);
                    return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): range end '\\%c' is not supported",
                                    n->name, n->op_type, e ? e : '0');
                }
            }
            if (lit == ']' || lit == '-' || lit == '^' || hi == ']' || hi == '-' || hi == '^') {
                kn_free(items.s);
                return kn_error(KILN_ERROR_UNSUPPORTED,
                                "node '%s' (%s): range with ']', '-' or '^' as an end is not supported", n->name,
                                n->op_type);
            }
            char r[3] = {lit, '-', hi};
            sb_add(&items, r, 3);
            k += adv;
            continue;
        }
        if (lit == ']')
            has_rbracket = true;
        else if (lit == '-')
            has_dash = true;
        else if (lit == '^')
            has_caret = true;
        else
            sb_add(&items, &lit, 1);
    }
    *i = k + 1;
    if (!items.len && !has_rbracket && !has_dash && has_caret && !negate) {
        sb_str(out, "\\^");
        kn_free(items.s);
        return KILN_OK;
    }
    sb_str(out, negate ? "[^" : "[");
    if (has_rbracket)
        sb_str(out, "]");
    if (items.s)
        sb_add(out, items.s, items.len);
    if (has_caret)
        sb_str(out, "^");
    if (has_dash)
        sb_str(out, "-");
    sb_str(out, "]");
    bool nomem = items.nomem;
    kn_free(items.s);
    return nomem ? KN_NOMEM() : KILN_OK;
}

/* Translate an RE2 pattern to a POSIX ERE matching the whole string. */
static kiln_status rx_translate(const kn_node *n, const char *p, char **out, int *flags)
{
    sbuf b = {0};
    size_t i = 0;
    kiln_status s = KILN_OK;
    *flags = REG_EXTENDED | REG_NOSUB;
    if (strncmp(p, "(?i)", 4) == 0) {
        *flags |= REG_ICASE;
        i = 4;
    }
    sb_str(&b, "^(");
    while (p[i] && s == KILN_OK) {
        char ch = p[i];
        if (ch == '\\') {
            char e = p[i + 1];
            bool neg;
            const char *cls = class_items(e, &neg);
            if (cls) {
                sb_str(&b, neg ? "[^" : "[");
                sb_str(&b, cls);
                sb_str(&b, "]");
            } else if (e == 'b' || e == 'B') {
                sb_add(&b, p + i, 2); /* glibc's word-boundary operators */
            } else if (e == 'A') {
                sb_str(&b, "^");
            } else if (e == 'z') {
                sb_str(&b, "$");
            } else if (control_escape(e)) {
                char lit = control_escape(e);
                sb_add(&b, &lit, 1);
            } else if (e && strchr("\\.^$|?*+()[]{}", e)) {
                sb_add(&b, p + i, 2);
            } else if (is_punct_escape(e)) {
                sb_add(&b, &e, 1);
            } else {
                s = kn_error(KILN_ERROR_UNSUPPORTED,
                             "node '%s' (%s): escape '\\%c' is not supported by kiln's regex translation", n->name,
                             n->op_type, e ? e : '0');
                break;
            }
            i += 2;
        } else if (ch == '[') {
            s = rx_bracket(n, p, &i, &b);
        } else if (ch == '(' && p[i + 1] == '?') {
            if (p[i + 2] == ':') {
                i += 3;
            } else if (p[i + 2] == 'P' && p[i + 3] == '<') {
                const char *end = strchr(p + i + 4, '>');
                if (!end) {
                    s = kn_error(KILN_ERROR_MODEL, "node '%s' (%s): unterminated group name", n->name, n->op_type);
                    break;
                }
                i = (size_t)(end + 1 - p);
            } else {
                s = kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): group flags '(?%c' are not supported",
                             n->name, n->op_type, p[i + 2] ? p[i + 2] : '0');
                break;
            }
            sb_str(&b, "(");
        } else if (ch == '.') {
            sb_str(&b, "[^\n]"); /* RE2's '.' excludes newline */
            i++;
        } else if (ch == '*' || ch == '+' || ch == '?' || ch == '}') {
            sb_add(&b, &ch, 1);
            i++;
            if (p[i] == '?') /* lazy: same set of full matches */
                i++;
        } else {
            sb_add(&b, &ch, 1);
            i++;
        }
    }
    sb_str(&b, ")$");
    if (s == KILN_OK && b.nomem)
        s = KN_NOMEM();
    if (s != KILN_OK) {
        kn_free(b.s);
        return s;
    }
    *out = b.s;
    return KILN_OK;
}

static kiln_status rx_parse(kn_node *n)
{
    const char *pattern;
    KN_TRY(kn_attr_get_string(n, "pattern", NULL, &pattern));
    if (!pattern)
        return kn_error(KILN_ERROR_MODEL, "node '%s' (%s): missing attribute 'pattern'", n->name, n->op_type);
    char *ere;
    int flags;
    KN_TRY(rx_translate(n, pattern, &ere, &flags));
    rx_params *p = kn_malloc(sizeof *p);
    if (!p) {
        kn_free(ere);
        return KN_NOMEM();
    }
    int rc = regcomp(&p->re, ere, flags);
    kn_free(ere);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &p->re, msg, sizeof msg);
        kn_free(p);
        return kn_error(KILN_ERROR_UNSUPPORTED, "node '%s' (%s): pattern '%s' cannot be compiled: %s", n->name,
                        n->op_type, pattern, msg);
    }
    n->params = p;
    return KILN_OK;
}

static kiln_status rx_infer(kn_op_ctx *c)
{
    KN_TRY(kn_check_arity(c, 1, 1, 1, 1));
    return kn_set_output(c, 0, KILN_DTYPE_BOOL, c->in[0]->rank, c->in[0]->dims);
}

static kiln_status rx_run(kn_op_ctx *c)
{
    const rx_params *p = c->params;
    int64_t n = kn_tensor_count(c->in[0]);
    uint8_t *y = c->out[0]->data;
    for (int64_t i = 0; i < n; i++)
        y[i] = regexec(&p->re, elem(c->in[0], i), 0, NULL, 0) == 0;
    return KILN_OK;
}

const kn_op kn_ops_string[] = {
    {.domain = "", .name = "StringConcat", .since_min = 20, .infer = concat_infer, .run = concat_run,
     .types = str_types},
    {.domain = "", .name = "StringSplit", .since_min = 20, .parse = split_parse, .infer = split_infer,
     .run = split_run, .types = str_types},
    {.domain = "", .name = "StringNormalizer", .since_min = 10, .parse = norm_parse, .free_params = norm_free,
     .infer = norm_infer,
     .run = norm_run, .types = str_types},
    {.domain = "", .name = "RegexFullMatch", .since_min = 20, .parse = rx_parse, .free_params = rx_free,
     .infer = rx_infer, .run = rx_run, .types = str_types},
};
KN_FAMILY_COUNT(string);
