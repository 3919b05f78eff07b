#include "scenario/expect_check.h"
#include "tests/test_registry.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building patterns and traces by hand ------------------------------------------- */

#define MAX_ITEMS 64

typedef struct test_pattern {
    pattern p;
    pattern_item items[MAX_ITEMS];
    char names[MAX_ITEMS][32];
} test_pattern;

/* "1 2 3+ 4" or "loadstart progress* loadend" -> a pattern (names when `names`). */
static pattern *make_pattern(test_pattern *tp, const char *spec, bool names)
{
    memset(tp, 0, sizeof *tp);
    tp->p.present = true;
    tp->p.items = tp->items;
    tp->p.pos = (src_pos){"x.yaml", 12, 7};
    char tok[32];
    int used;
    while (tp->p.n < MAX_ITEMS && sscanf(spec, " %31s%n", tok, &used) == 1) {
        spec += used;
        pattern_item *it = &tp->items[tp->p.n];
        size_t len = strlen(tok);
        char last = tok[len - 1];
        it->quant = last == '+' ? Q_PLUS : last == '*' ? Q_STAR : last == '?' ? Q_OPT : Q_ONE;
        if (it->quant != Q_ONE)
            tok[len - 1] = '\0';
        if (names) {
            strcpy(tp->names[tp->p.n], tok);
            it->name = tp->names[tp->p.n];
        } else {
            it->value = atoi(tok);
        }
        tp->p.n++;
    }
    return &tp->p;
}

static size_t make_ints(int *out, const char *spec)
{
    size_t n = 0;
    int v, used;
    while (n < MAX_ITEMS && sscanf(spec, " %d%n", &v, &used) == 1) {
        out[n++] = v;
        spec += used;
    }
    return n;
}

typedef struct test_names {
    char store[MAX_ITEMS][32];
    const char *seq[MAX_ITEMS];
    size_t n;
} test_names;

static void make_names(test_names *tn, const char *spec)
{
    int used;
    tn->n = 0;
    while (tn->n < MAX_ITEMS && sscanf(spec, " %31s%n", tn->store[tn->n], &used) == 1) {
        tn->seq[tn->n] = tn->store[tn->n];
        tn->n++;
        spec += used;
    }
}

static void push_rs(trace *t, int rs)
{
    trace_event *e = trace_push(t, 0, "readystatechange");
    e->rs = rs;
    e->fields |= TF_RS;
}

static void push_event(trace *t, const char *ev)
{
    trace_push(t, 0, ev);
}

static void push_progress(trace *t, const char *ev, bool lc, uint64_t loaded, uint64_t total)
{
    trace_event *e = trace_push(t, 0, ev);
    e->fields |= TF_PROGRESS;
    e->length_computable = lc;
    e->loaded = loaded;
    e->total = total;
}

/* What a plain GET of a 6-byte text looks like, with comet's own and upload events mixed in
 * (they must not disturb `events`, `loaded` or `progress_count`). */
static void simple_trace(trace *t)
{
    trace_init(t);
    push_rs(t, 1);
    push_event(t, "request");
    push_progress(t, "loadstart", false, 0, 0);
    push_progress(t, "upload.loadstart", true, 0, 3);
    push_progress(t, "upload.progress", true, 3, 3);
    push_progress(t, "upload.loadend", true, 3, 3);
    push_rs(t, 2);
    push_event(t, "finding");
    push_rs(t, 3);
    push_progress(t, "progress", true, 6, 6);
    push_rs(t, 4);
    push_progress(t, "load", true, 6, 6);
    push_progress(t, "loadend", true, 6, 6);
}

static xhr_final simple_final(void)
{
    return (xhr_final){
        .ready_state = 4,
        .status = 200,
        .status_text = "OK",
        .response_text = "hello\n",
        .response_url = "http://t.test/src",
        .all_headers = "content-type: text/plain\r\nx-dup: a, b\r\n",
        .elapsed_us = 123456,
    };
}

static src_pos at(int line, int col)
{
    return (src_pos){"x.yaml", line, col};
}

/* Runs the check expecting exactly one reason, `want`. */
static int one_reason(const expect *e, const trace *t, const xhr_final *f, const char *want)
{
    reasons r = {0};
    bool ok = expect_check_xhr(e, t, 0, t->n, f, &r);
    int good = !ok && r.n == 1 && strcmp(r.items[0], want) == 0;
    if (!good) {
        fprintf(stderr, "\nwant: %s\n", want);
        for (size_t i = 0; i < r.n; i++)
            fprintf(stderr, " got: %s\n", r.items[i]);
        if (ok)
            fprintf(stderr, " (the check passed)\n");
    }
    reasons_free(&r);
    return good;
}

static int passes(const expect *e, const trace *t, const xhr_final *f)
{
    reasons r = {0};
    bool ok = expect_check_xhr(e, t, 0, t->n, f, &r);
    int good = ok && r.n == 0;
    for (size_t i = 0; i < r.n; i++)
        fprintf(stderr, "\nunexpected: %s\n", r.items[i]);
    reasons_free(&r);
    return good;
}

/* ---- pattern matching --------------------------------------------------------------- */

static void test_quantifiers_ints(void)
{
    static const struct {
        const char *pattern, *seq;
        bool match;
    } table[] = {
        {"", "", true},
        {"", "1", false},
        {"1", "", false},
        {"3*", "", true},
        {"3?", "", true},
        {"3+", "", false},
        {"1 2 3 4", "1 2 3 4", true},
        {"1 2 3 4", "1 2 3", false},
        {"2", "1 2", false},            /* anchored at the start */
        {"1", "1 2", false},            /* and at the end */
        {"1 2 3+ 4", "1 2 3 4", true},
        {"1 2 3+ 4", "1 2 3 3 3 4", true},
        {"1 2 3+ 4", "1 2 4", false},
        {"1 2 3* 4", "1 2 4", true},
        {"1 2 3* 4", "1 2 3 3 4", true},
        {"1 3? 4", "1 4", true},
        {"1 3? 4", "1 3 4", true},
        {"1 3? 4", "1 3 3 4", false},
        {"3+ 3", "3", false},           /* 3+ must leave one 3 for the last item */
        {"3+ 3", "3 3", true},
        {"3+ 3", "3 3 3", true},
        {"3* 3*", "3 3 3", true},       /* adjacent starred items */
        {"3* 3*", "", true},
        {"3* 4* 3*", "3 4 3", true},
        {"3* 4* 3*", "4 3 4", false},
        {"1* 1+ 1? 1", "1", false},
        {"1* 1+ 1? 1", "1 1", true},
        {"1* 1+ 1? 1", "1 1 1 1 1", true},
        {"0? 1 2 3* 4", "0 1 2 4", true},
        {"1 2 3+ 4", "1 2 3 4 4", false},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        test_pattern tp;
        int seq[MAX_ITEMS];
        size_t n = make_ints(seq, table[i].seq);
        bool got = pattern_match_ints(make_pattern(&tp, table[i].pattern, false), seq, n);
        if (got != table[i].match)
            fprintf(stderr, "\n[%s] vs [%s]: got %d\n", table[i].pattern, table[i].seq, got);
        CU_ASSERT_EQUAL(got, table[i].match);
    }
}

static void test_quantifiers_names(void)
{
    static const struct {
        const char *pattern, *seq;
        bool match;
    } table[] = {
        {"loadstart progress* load loadend", "loadstart load loadend", true},
        {"loadstart progress* load loadend", "loadstart progress progress load loadend", true},
        {"loadstart progress+ load loadend", "loadstart load loadend", false},
        {"loadstart progress+ load loadend", "loadstart progress load loadend", true},
        {"loadstart progress? error loadend", "loadstart error loadend", true},
        {"loadstart upload.loadstart upload.progress* upload.load upload.loadend loadend",
         "loadstart upload.loadstart upload.load upload.loadend loadend", true},
        {"loadstart load loadend", "loadstart load", false},
        {"loadstart load loadend", "loadstart abort loadend", false},
        {"", "", true},
        {"progress*", "", true},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        test_pattern tp;
        test_names tn;
        make_names(&tn, table[i].seq);
        bool got = pattern_match_names(make_pattern(&tp, table[i].pattern, true), tn.seq, tn.n);
        if (got != table[i].match)
            fprintf(stderr, "\n[%s] vs [%s]: got %d\n", table[i].pattern, table[i].seq, got);
        CU_ASSERT_EQUAL(got, table[i].match);
    }
}

/* Many starred items over a long sequence that cannot match: naive backtracking takes
 * (n^k) steps; the matcher must answer at once. */
static void test_no_blowup(void)
{
    test_pattern tp;
    char spec[256] = "";
    for (int i = 0; i < 30; i++)
        strcat(spec, "1* ");
    strcat(spec, "2");
    make_pattern(&tp, spec, false);
    size_t n = 5000;
    int *seq = malloc(n * sizeof *seq);
    CU_ASSERT_PTR_NOT_NULL_FATAL(seq);
    for (size_t i = 0; i < n; i++)
        seq[i] = 1;
    CU_ASSERT_FALSE(pattern_match_ints(&tp.p, seq, n));
    seq[n - 1] = 2;
    CU_ASSERT_TRUE(pattern_match_ints(&tp.p, seq, n));
    free(seq);
}

static void test_pattern_format(void)
{
    static const struct {
        const char *spec;
        bool names;
        const char *text;
    } table[] = {
        {"1 2 3+ 4", false, "[1, 2, 3+, 4]"},
        {"loadstart progress* load loadend", true, "[loadstart, progress*, load, loadend]"},
        {"3?", false, "[3?]"},
        {"", false, "[]"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        test_pattern tp;
        char *s = pattern_format(make_pattern(&tp, table[i].spec, table[i].names));
        CU_ASSERT_STRING_EQUAL(s, table[i].text);
        free(s);
    }
}

/* ---- helpers ------------------------------------------------------------------------ */

static void test_header_lookup(void)
{
    const char *all = "content-type: text/plain\r\nx-dup: a, b\r\nx-empty: \r\n"
                      "location: http://h/x:y\r\nx-dup: c\r\nx-last: z";
    static const struct {
        const char *name, *value;
    } table[] = {
        {"content-type", "text/plain"},
        {"Content-Type", "text/plain"},      /* names match case-insensitively */
        {"CONTENT-TYPE", "text/plain"},
        {"x-dup", "a, b, c"},                /* combined, in order */
        {"x-empty", ""},
        {"location", "http://h/x:y"},        /* the first colon ends the name */
        {"x-last", "z"},                     /* no CRLF after the last line */
        {"x-missing", NULL},
        {"content", NULL},                   /* no prefix match */
        {"content-type-x", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char *v = header_lookup(all, table[i].name);
        if (table[i].value) {
            CU_ASSERT_PTR_NOT_NULL(v);
            if (v)
                CU_ASSERT_STRING_EQUAL(v, table[i].value);
        } else {
            CU_ASSERT_PTR_NULL(v);
        }
        free(v);
    }
    CU_ASSERT_PTR_NULL(header_lookup(NULL, "content-type"));
    CU_ASSERT_PTR_NULL(header_lookup("", "content-type"));
}

static void test_text_match_ok(void)
{
    text_match eq = {TM_EQUALS, "OK", {0}}, has = {TM_CONTAINS, "chunk 5", {0}};
    text_match lacks = {TM_NOT_CONTAINS, "error", {0}}, re = {TM_REGEX, "^chunk [0-9]+$", {0}};
    text_match absent = {TM_ABSENT, NULL, {0}}, empty = {TM_EQUALS, "", {0}};
    CU_ASSERT_TRUE(text_match_ok(&eq, "OK"));
    CU_ASSERT_FALSE(text_match_ok(&eq, "OK "));
    CU_ASSERT_FALSE(text_match_ok(&eq, "ok"));
    CU_ASSERT_FALSE(text_match_ok(&eq, NULL));
    CU_ASSERT_TRUE(text_match_ok(&empty, ""));
    CU_ASSERT_FALSE(text_match_ok(&empty, NULL));
    CU_ASSERT_TRUE(text_match_ok(&has, "chunk 4\nchunk 5\n"));
    CU_ASSERT_FALSE(text_match_ok(&has, "chunk 4\n"));
    CU_ASSERT_FALSE(text_match_ok(&has, NULL));
    CU_ASSERT_TRUE(text_match_ok(&lacks, "all fine"));
    CU_ASSERT_FALSE(text_match_ok(&lacks, "an error"));
    CU_ASSERT_FALSE(text_match_ok(&lacks, NULL)); /* null is not "a text without error" */
    CU_ASSERT_TRUE(text_match_ok(&re, "chunk 12"));
    CU_ASSERT_FALSE(text_match_ok(&re, "chunk x"));
    CU_ASSERT_FALSE(text_match_ok(&re, NULL));
    CU_ASSERT_TRUE(text_match_ok(&absent, NULL));
    CU_ASSERT_FALSE(text_match_ok(&absent, ""));
}

/* ---- expect_check_xhr --------------------------------------------------------------- */

static void test_all_pass(void)
{
    trace t;
    simple_trace(&t);
    xhr_final f = simple_final();
    test_pattern rs, evs;
    text_match st = {TM_EQUALS, "OK", at(15, 7)};
    text_match all = {TM_CONTAINS, "x-dup: a, b", at(18, 7)};
    text_match body[] = {{TM_EQUALS, "hello\n", at(19, 9)}, {TM_REGEX, "^hel+o", at(20, 9)}};
    text_match url = {TM_NOT_CONTAINS, "/dst", at(21, 7)};
    header_expect headers[] = {
        {"content-type", {TM_EQUALS, "text/plain", at(17, 16)}},
        {"x-dup", {TM_CONTAINS, "b", at(17, 30)}},
        {"x-missing", {TM_ABSENT, NULL, at(17, 40)}},
    };
    expect e = {
        .ready_states = *make_pattern(&rs, "1 2 3+ 4", false),
        .events = *make_pattern(&evs, "loadstart upload.loadstart upload.progress* "
                                      "upload.loadend progress* load loadend", true),
        .status = {true, 200, at(14, 7)},
        .status_text = &st,
        .ready_state = {true, 4, at(16, 7)},
        .headers = headers,
        .n_headers = 3,
        .all_headers = &all,
        .response_text = body,
        .n_response_text = 2,
        .response_url = &url,
        .loaded = {true, 6, at(22, 7)},
        .total = {true, 6, at(23, 7)},
        .length_computable = {true, true, at(24, 7)},
        .elapsed_min_us = {true, 100000, at(25, 17)},
        .elapsed_max_us = {true, 200000, at(25, 30)},
        .progress_min = {true, 1, at(26, 7)},
        .progress_max = {true, 1, at(26, 7)},
    };
    CU_ASSERT(passes(&e, &t, &f));
    expect nothing = {0};
    CU_ASSERT(passes(&nothing, &t, &f));
    trace_free(&t);
}

static void test_sequence_reasons(void)
{
    trace t;
    trace_init(&t);
    push_rs(&t, 1);
    push_progress(&t, "loadstart", false, 0, 0);
    push_event(&t, "abort()"); /* comet's own: not in `events` */
    push_rs(&t, 2);
    push_rs(&t, 4);
    push_progress(&t, "load", true, 6, 6);
    push_progress(&t, "loadend", true, 6, 6);
    xhr_final f = simple_final();
    test_pattern tp;
    expect e = {.ready_states = *make_pattern(&tp, "1 2 3+ 4", false)};
    CU_ASSERT(one_reason(&e, &t, &f, "ready_states (x.yaml:12:7): expected [1, 2, 3+, 4], "
                                     "observed [1, 2, 4]"));
    expect e2 = {.events = *make_pattern(&tp, "loadstart progress+ load loadend", true)};
    CU_ASSERT(one_reason(&e2, &t, &f, "events (x.yaml:12:7): expected [loadstart, progress+, "
                                      "load, loadend], observed [loadstart, load, loadend]"));

    /* long observed sequences fold runs and say when the trace was cut */
    trace_free(&t);
    trace_init(&t);
    push_progress(&t, "loadstart", false, 0, 0);
    for (int i = 0; i < 40; i++)
        push_progress(&t, "progress", false, (uint64_t)i, 0);
    push_progress(&t, "progress", false, 0, 0);
    t.truncated = true;
    expect e3 = {.events = *make_pattern(&tp, "loadstart progress+ loadend", true)};
    CU_ASSERT(one_reason(&e3, &t, &f, "events (x.yaml:12:7): expected [loadstart, progress+, "
                                      "loadend], observed [loadstart, progress (41 times)] (the "
                                      "trace was truncated: later events are missing)"));
    trace_free(&t);
}

static void test_value_reasons(void)
{
    trace t;
    simple_trace(&t);
    xhr_final f = simple_final();

    expect e = {.status = {true, 200, at(14, 7)}};
    xhr_final neterr = f;
    neterr.status = 0;
    CU_ASSERT(one_reason(&e, &t, &neterr, "status (x.yaml:14:7): expected 200, observed 0"));

    text_match st = {TM_EQUALS, "OK", at(15, 7)};
    expect e_st = {.status_text = &st};
    xhr_final nf = f;
    nf.status_text = "Not Found";
    CU_ASSERT(one_reason(&e_st, &t, &nf, "status_text (x.yaml:15:7): expected \"OK\", observed "
                                         "\"Not Found\""));

    expect e_rs = {.ready_state = {true, 4, at(16, 7)}};
    xhr_final early = f;
    early.ready_state = 1;
    CU_ASSERT(one_reason(&e_rs, &t, &early, "ready_state (x.yaml:16:7): expected 4, observed 1"));

    header_expect absent = {"x-dup", {TM_ABSENT, NULL, at(17, 16)}};
    expect e_h = {.headers = &absent, .n_headers = 1};
    CU_ASSERT(one_reason(&e_h, &t, &f, "header x-dup (x.yaml:17:16): expected null (not "
                                       "visible), observed \"a, b\""));
    header_expect present = {"content-length", {TM_EQUALS, "6", at(17, 30)}};
    expect e_h2 = {.headers = &present, .n_headers = 1};
    CU_ASSERT(one_reason(&e_h2, &t, &f, "header content-length (x.yaml:17:30): expected \"6\", "
                                        "observed null"));

    text_match all = {TM_CONTAINS, "x-dup: a, c", at(18, 7)};
    expect e_all = {.all_headers = &all};
    CU_ASSERT(one_reason(&e_all, &t, &f, "all_headers (x.yaml:18:7): expected to contain "
                                         "\"x-dup: a, c\", observed \"content-type: text/plain"
                                         "\\r\\nx-dup: a, b\\r\\n\" (39 bytes)"));

    text_match body = {TM_CONTAINS, "chunk 5", at(15, 7)};
    expect e_body = {.response_text = &body, .n_response_text = 1};
    xhr_final chunks = f;
    chunks.response_text = "chunk 1\nchunk 2";
    CU_ASSERT(one_reason(&e_body, &t, &chunks, "response_text (x.yaml:15:7): expected to "
                                               "contain \"chunk 5\", observed \"chunk 1\\nchunk "
                                               "2\" (15 bytes)"));
    text_match bodies[] = {{TM_NOT_CONTAINS, "chunk 2", at(19, 9)},
                           {TM_REGEX, "^chunk [0-9]$", at(20, 9)},
                           {TM_EQUALS, "chunk 1\nchunk 2", at(21, 9)}};
    expect e_bodies = {.response_text = bodies, .n_response_text = 3};
    reasons r = {0};
    CU_ASSERT_FALSE(expect_check_xhr(&e_bodies, &t, 0, t.n, &chunks, &r));
    CU_ASSERT_EQUAL_FATAL(r.n, 2); /* one line per failing item; the third holds */
    CU_ASSERT_STRING_EQUAL(r.items[0], "response_text (x.yaml:19:9): expected not to contain "
                                       "\"chunk 2\", observed \"chunk 1\\nchunk 2\" (15 bytes)");
    CU_ASSERT_STRING_EQUAL(r.items[1], "response_text (x.yaml:20:9): expected to match regex "
                                       "\"^chunk [0-9]$\", observed \"chunk 1\\nchunk 2\" (15 "
                                       "bytes)");
    reasons_free(&r);

    text_match url = {TM_CONTAINS, "/dst", at(21, 7)};
    expect e_url = {.response_url = &url};
    CU_ASSERT(one_reason(&e_url, &t, &f, "response_url (x.yaml:21:7): expected to contain "
                                         "\"/dst\", observed \"http://t.test/src\""));
    trace_free(&t);
}

static void test_progress_reasons(void)
{
    trace t;
    simple_trace(&t);
    xhr_final f = simple_final();

    /* loaded/total come from loadend (6 of 6), never from upload.* (3 of 3) */
    expect e_loaded = {.loaded = {true, 12, at(22, 7)}};
    CU_ASSERT(one_reason(&e_loaded, &t, &f, "loaded (x.yaml:22:7): expected 12, observed 6"));
    expect e_total = {.total = {true, 3, at(23, 7)}};
    CU_ASSERT(one_reason(&e_total, &t, &f, "total (x.yaml:23:7): expected 3, observed 6"));
    expect e_lc = {.length_computable = {true, false, at(24, 7)}};
    CU_ASSERT(one_reason(&e_lc, &t, &f, "length_computable (x.yaml:24:7): expected false, "
                                        "observed true"));

    /* progress_count counts download progress events only: 1 here */
    expect e_exact = {.progress_min = {true, 3, at(26, 7)}, .progress_max = {true, 3, at(26, 7)}};
    CU_ASSERT(one_reason(&e_exact, &t, &f, "progress_count (x.yaml:26:7): expected 3, "
                                           "observed 1"));
    expect e_min = {.progress_min = {true, 2, at(26, 25)}};
    CU_ASSERT(one_reason(&e_min, &t, &f, "progress_count (x.yaml:26:25): expected at least 2, "
                                         "observed 1"));
    expect e_max = {.progress_min = {true, 0, at(27, 25)}, .progress_max = {true, 0, at(27, 33)}};
    CU_ASSERT(one_reason(&e_max, &t, &f, "progress_count (x.yaml:27:33): expected 0, "
                                         "observed 1"));
    expect e_max2 = {.progress_max = {true, 0, at(27, 33)}};
    CU_ASSERT(one_reason(&e_max2, &t, &f, "progress_count (x.yaml:27:33): expected at most 0, "
                                          "observed 1"));

    /* elapsed, in ms */
    expect e_min_el = {.elapsed_min_us = {true, 200000, at(25, 17)}};
    CU_ASSERT(one_reason(&e_min_el, &t, &f, "elapsed (x.yaml:25:17): expected at least 200 ms, "
                                            "observed 123.456 ms"));
    expect e_max_el = {.elapsed_min_us = {true, 1500, at(25, 17)},
                       .elapsed_max_us = {true, 100000, at(25, 30)}};
    CU_ASSERT(one_reason(&e_max_el, &t, &f, "elapsed (x.yaml:25:30): expected at most 100 ms, "
                                            "observed 123.456 ms"));
    xhr_final unfinished = f;
    unfinished.elapsed_us = -1;
    CU_ASSERT(one_reason(&e_max_el, &t, &unfinished, "elapsed (x.yaml:25:17): expected at "
                                                     "least 1.5 ms, observed no loadend (the "
                                                     "step did not finish)"));
    trace_free(&t);

    /* no download progress-family event at all */
    trace_init(&t);
    push_rs(&t, 1);
    push_progress(&t, "upload.progress", true, 3, 3);
    CU_ASSERT(one_reason(&e_loaded, &t, &f, "loaded (x.yaml:22:7): expected 12, observed no "
                                            "progress or loadend event"));
    trace_free(&t);
}

static void test_range_and_several(void)
{
    /* two steps in one trace: each checks only its own range */
    trace t;
    trace_init(&t);
    push_rs(&t, 1);
    push_rs(&t, 4);
    size_t second = t.n;
    push_rs(&t, 1);
    push_rs(&t, 2);
    push_rs(&t, 3);
    push_rs(&t, 4);
    xhr_final f = simple_final();
    test_pattern tp;
    expect e = {.ready_states = *make_pattern(&tp, "1 2 3 4", false)};
    reasons r = {0};
    CU_ASSERT_TRUE(expect_check_xhr(&e, &t, second, t.n, &f, &r));
    CU_ASSERT_FALSE(expect_check_xhr(&e, &t, 0, second, &f, &r));
    CU_ASSERT_EQUAL(r.n, 1);
    CU_ASSERT_TRUE(expect_check_xhr(&e, &t, second, t.n + 5, &f, &r)); /* clamped */
    reasons_free(&r);

    /* every mismatch is its own line */
    expect e2 = {.ready_states = e.ready_states, .status = {true, 404, at(3, 3)},
                 .ready_state = {true, 0, at(4, 3)}};
    CU_ASSERT_FALSE(expect_check_xhr(&e2, &t, 0, second, &f, &r));
    CU_ASSERT_EQUAL(r.n, 3);
    reasons_free(&r);
    CU_ASSERT_FALSE(expect_check_xhr(&e2, &t, 0, second, &f, NULL)); /* reasons optional */
    trace_free(&t);
}

static void test_observed_text_rendering(void)
{
    trace t;
    trace_init(&t);
    xhr_final f = simple_final();
    text_match want = {TM_EQUALS, "x", at(9, 7)};
    expect e = {.response_text = &want, .n_response_text = 1};

    /* long text: the first 200 bytes, and it says so */
    char long_text[501];
    memset(long_text, 'y', 500);
    long_text[500] = '\0';
    f.response_text = long_text;
    char expected[512];
    int n = snprintf(expected, sizeof expected, "response_text (x.yaml:9:7): expected \"x\", "
                                                "observed \"");
    memset(expected + n, 'y', 200);
    strcpy(expected + n + 200, "\" (500 bytes, first 200 shown)");
    CU_ASSERT(one_reason(&e, &t, &f, expected));

    /* binary and control bytes are escaped, valid UTF-8 is kept, C1 controls escaped */
    f.response_text = "a\x01\x7f\xff\xc3\xa9\xc2\x85\"\\\t\r\n\xe2\x82";
    CU_ASSERT(one_reason(&e, &t, &f, "response_text (x.yaml:9:7): expected \"x\", observed "
                                     "\"a\\x01\\x7f\\xff\xc3\xa9\\xc2\\x85\\\"\\\\\\t\\r\\n"
                                     "\\xe2\\x82\" (15 bytes)"));

    /* a UTF-8 character straddling the cut is shown whole, never split */
    char utf[300];
    memset(utf, 'z', 199);
    strcpy(utf + 199, "\xc3\xa9tail");
    f.response_text = utf;
    char *reason_start = expected + n;
    memset(reason_start, 'z', 199);
    strcpy(reason_start + 199, "\xc3\xa9\" (205 bytes, first 201 shown)");
    CU_ASSERT(one_reason(&e, &t, &f, expected));

    /* the user's expected text is escaped too */
    text_match ctl = {TM_CONTAINS, "a\tb\n", at(9, 7)};
    expect e2 = {.response_text = &ctl, .n_response_text = 1};
    f.response_text = NULL;
    CU_ASSERT(one_reason(&e2, &t, &f, "response_text (x.yaml:9:7): expected to contain "
                                      "\"a\\tb\\n\", observed null"));

    /* positions without a file still render */
    text_match nopos = {TM_EQUALS, "OK", {0}};
    expect e3 = {.status_text = &nopos};
    f.status_text = "KO";
    CU_ASSERT(one_reason(&e3, &t, &f, "status_text: expected \"OK\", observed \"KO\""));
    trace_free(&t);
}

CU_ErrorCode register_expect_tests(void)
{
    CU_pSuite s = CU_add_suite("expect", NULL, NULL);
    if (!s || !CU_add_test(s, "quantifiers over readyStates", test_quantifiers_ints) ||
        !CU_add_test(s, "quantifiers over event names", test_quantifiers_names) ||
        !CU_add_test(s, "no backtracking blowup", test_no_blowup) ||
        !CU_add_test(s, "pattern_format", test_pattern_format) ||
        !CU_add_test(s, "header_lookup", test_header_lookup) ||
        !CU_add_test(s, "text_match_ok", test_text_match_ok) ||
        !CU_add_test(s, "everything expected holds", test_all_pass) ||
        !CU_add_test(s, "ready_states and events reasons", test_sequence_reasons) ||
        !CU_add_test(s, "value reasons", test_value_reasons) ||
        !CU_add_test(s, "progress and elapsed reasons", test_progress_reasons) ||
        !CU_add_test(s, "trace ranges, several reasons", test_range_and_several) ||
        !CU_add_test(s, "observed text cut and escaped", test_observed_text_rendering))
        return CU_get_error();
    return CUE_SUCCESS;
}
