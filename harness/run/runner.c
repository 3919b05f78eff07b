#include "run/runner.h"

#include "browser/cookie_jar.h"
#include "browser/cors.h"
#include "fixture.h"
#include "net/transport.h"
#include "run/fetch.h"
#include "run/xhr_step.h"
#include "scenario/expect_check.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/url.h"

#include <ev.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_RESPONSE_TEXT (64u << 20)

typedef struct runner runner;

/* One case being run (all its attempts). */
typedef struct case_run {
    runner *rn;
    size_t slot;                /* index in the result array */
    const suite *s;
    const scenario_case *c;
    url target;
    url page_url;
    char *page_origin;
    int attempt;
    size_t step_i;
    int rep_i;
    xhr_run *cur;
    int64_t started;
    bool deadline_hit;
    bool stopped;               /* the remaining steps are skipped */
    verdict attempt_verdict;
    trace trace;
    reasons reasons;
    cors_cache preflight_cache;  /* the emulated page's, kept across its steps */
    cookie_jar cookies;          /* the page's cookies, kept across its steps */
    ev_timer deadline;
    ev_timer gap;
    case_result *res;
    /* the worst attempt so far, kept for the report */
    trace kept_trace;
    reasons kept_reasons;
    verdict kept_verdict;
    bool kept;
} case_run;

typedef struct pending_case {
    const suite *s;
    const scenario_case *c;
    const char *target;
} pending_case;

struct runner {
    const runner_config *config;
    struct ev_loop *loop;
    fetch_config fetch;
    pending_case *pending;
    size_t n_pending;
    size_t next;
    size_t running;
    case_run **active;
    run_result *out;
    int64_t t0;
    const suite *suite_of_deadline;
    int64_t suite_started;
    ev_signal sigint;
    ev_signal sigterm;
};

static void start_next_cases(runner *rn);
static void run_step(case_run *cr);

/* ---- grading ------------------------------------------------------------------------ */

static int verdict_rank(verdict v)
{
    static const int rank[] = {
        [V_PASS] = 0, [V_INFORMATIONAL] = 1, [V_NON_STRICT] = 2,
        [V_UNIMPLEMENTED] = 3, [V_FAIL] = 4, [V_ERROR] = 5,
    };
    return rank[v];
}

static verdict worse(verdict a, verdict b)
{
    return verdict_rank(a) >= verdict_rank(b) ? a : b;
}

static verdict severity_verdict(severity s)
{
    return s == SEV_SHOULD ? V_NON_STRICT : s == SEV_MAY ? V_INFORMATIONAL : V_FAIL;
}

static const char *last_network_error(const trace *t, size_t from, size_t to)
{
    for (size_t i = to; i > from; i--)
        if (!strcmp(t->events[i - 1].ev, "network-error"))
            return t->events[i - 1].detail;
    return NULL;
}

static bool status_listed(const scenario_case *c, int status)
{
    for (size_t i = 0; i < c->n_unimplemented_status; i++)
        if (c->unimplemented_status[i] == status)
            return true;
    return false;
}

static void grade_step(case_run *cr, const step *st, const step_outcome *o)
{
    const expect *e = &st->expect;
    if (o->error) {
        reasons_add(&cr->reasons, "step %zu (%s:%d): %s", cr->step_i + 1, st->pos.file,
                    st->pos.line, o->error);
        cr->attempt_verdict = worse(cr->attempt_verdict, V_ERROR);
        cr->stopped = true;
        return;
    }
    if (cr->deadline_hit) {
        reasons_add(&cr->reasons, "step %zu did not finish within the case deadline (%.3g s)",
                    cr->step_i + 1, (double)(cr->deadline.repeat ? cr->deadline.repeat : 0));
    }
    bool expects_network_error = e->status.present && e->status.value == 0;
    if (o->connect_failed && !expects_network_error) {
        const char *why = last_network_error(&cr->trace, o->trace_from, o->trace_to);
        reasons_add(&cr->reasons, "could not connect: %s", why ? why : "unknown error");
        cr->attempt_verdict = worse(cr->attempt_verdict, V_ERROR);
        cr->stopped = true;
        return;
    }
    if (status_listed(cr->c, o->final->status)) {
        reasons_add(&cr->reasons, "the server answered %d: feature not implemented",
                    o->final->status);
        cr->attempt_verdict = worse(cr->attempt_verdict, V_UNIMPLEMENTED);
        cr->stopped = true;
        return;
    }
    bool ok = expect_check_xhr(e, &cr->trace, o->trace_from, o->trace_to, o->final, &cr->reasons);
    if (!ok)
        cr->attempt_verdict = worse(cr->attempt_verdict, severity_verdict(cr->c->severity));
    /* The server leaned on a leniency of Chromium's that the standard does not grant. */
    for (size_t i = o->trace_from; i < o->trace_to; i++) {
        if (strcmp(cr->trace.events[i].ev, "leniency"))
            continue;
        reasons_add(&cr->reasons, "non-strict: %s", cr->trace.events[i].detail);
        cr->attempt_verdict = worse(cr->attempt_verdict, V_NON_STRICT);
    }
    if (cr->deadline_hit) {
        cr->attempt_verdict = worse(cr->attempt_verdict, V_FAIL);
        cr->stopped = true;
    }
}

/* ---- case lifecycle ------------------------------------------------------------------ */

static int64_t case_deadline_us(const runner *rn, const case_run *cr)
{
    if (rn->config->case_timeout_us > 0)
        return rn->config->case_timeout_us;
    if (cr->c->timeout_us > 0)
        return cr->c->timeout_us;
    return cr->s->timeout_us > 0 ? cr->s->timeout_us : SUITE_DEFAULT_CASE_TIMEOUT_US;
}

static void keep_worst_attempt(case_run *cr)
{
    if (cr->kept && verdict_rank(cr->attempt_verdict) <= verdict_rank(cr->kept_verdict)) {
        trace_free(&cr->trace);
        reasons_free(&cr->reasons);
    } else {
        trace_free(&cr->kept_trace);
        reasons_free(&cr->kept_reasons);
        cr->kept_trace = cr->trace;
        cr->kept_reasons = cr->reasons;
        cr->kept_verdict = cr->attempt_verdict;
        cr->kept = true;
    }
    cr->trace = (trace){0};
    cr->reasons = (reasons){0};
}

static void case_run_free(case_run *cr)
{
    ev_timer_stop(cr->rn->loop, &cr->deadline);
    ev_timer_stop(cr->rn->loop, &cr->gap);
    xhr_run_free(cr->cur);
    url_free(&cr->target);
    url_free(&cr->page_url);
    free(cr->page_origin);
    trace_free(&cr->trace);
    reasons_free(&cr->reasons);
    trace_free(&cr->kept_trace);
    reasons_free(&cr->kept_reasons);
    cors_cache_free(&cr->preflight_cache);
    cookie_jar_free(&cr->cookies);
    free(cr);
}

static void remove_active(runner *rn, case_run *cr)
{
    for (size_t i = 0; i < rn->running; i++)
        if (rn->active[i] == cr) {
            rn->active[i] = rn->active[--rn->running];
            return;
        }
}

static void publish(case_run *cr)
{
    runner *rn = cr->rn;
    case_result *res = cr->res;
    res->verdict = cr->kept_verdict;
    res->reasons = cr->kept_reasons;
    res->trace = cr->kept_trace;
    cr->kept_reasons = (reasons){0};
    cr->kept_trace = (trace){0};
    res->duration_us = clock_now_us() - cr->started;
    res->unstable = false;
    for (int i = 1; i < res->attempts; i++)
        if (res->attempt_verdicts[i] != res->attempt_verdicts[0])
            res->unstable = true;
    if (res->unstable) {
        buf b = {0};
        for (int i = 0; i < res->attempts; i++)
            buf_printf(&b, "%s%s", i ? ", " : "", verdict_name(res->attempt_verdicts[i]));
        reasons_add(&res->reasons, "unstable: the verdict changed between attempts (%s)", b.data);
        buf_free(&b);
    }
    rn->out->counts[res->verdict]++;
    if (rn->config->console)
        report_console_case(rn->config->console, res, &rn->config->console_opts);
}

static void start_attempt(case_run *cr);

static void finish_attempt(case_run *cr)
{
    runner *rn = cr->rn;
    ev_timer_stop(rn->loop, &cr->deadline);
    ev_timer_stop(rn->loop, &cr->gap);
    cr->res->attempt_verdicts[cr->attempt] = cr->attempt_verdict;
    cr->res->attempts = cr->attempt + 1;
    keep_worst_attempt(cr);
    int repeat = rn->config->repeat > 0 ? rn->config->repeat : 1;
    if (++cr->attempt < repeat) {
        start_attempt(cr);
        return;
    }
    publish(cr);
    remove_active(rn, cr);
    case_run_free(cr);
    start_next_cases(rn);
}

static void next_step(case_run *cr)
{
    const step *st = &cr->c->steps[cr->step_i];
    int reps = st->u.xhr.repeat > 0 ? st->u.xhr.repeat : 1;
    if (++cr->rep_i >= reps) {
        cr->rep_i = 0;
        cr->step_i++;
    }
    if (cr->stopped || cr->step_i >= cr->c->n_steps)
        finish_attempt(cr);
    else
        run_step(cr);
}

static void gap_done(struct ev_loop *loop, ev_timer *w, int revents)
{
    next_step(w->data);
}

static void step_finished(void *ud, const step_outcome *o)
{
    case_run *cr = ud;
    const step *st = &cr->c->steps[cr->step_i];
    grade_step(cr, st, o);
    xhr_run *done = cr->cur;
    cr->cur = NULL;
    xhr_run_free(done);
    int64_t gap = st->u.xhr.gap_us;
    if (gap > 0 && !cr->stopped) {
        ev_timer_set(&cr->gap, gap / 1e6, 0.0);
        ev_timer_start(cr->rn->loop, &cr->gap);
    } else {
        next_step(cr);
    }
}

static void run_step(case_run *cr)
{
    runner *rn = cr->rn;
    step_env env = {
        .loop = rn->loop,
        .fetch = &rn->fetch,
        .target = &cr->target,
        .page_url = &cr->page_url,
        .page_origin = cr->page_origin,
        .t0 = cr->started,
        .trace = &cr->trace,
        .preflight_cache = &cr->preflight_cache,
        .cookies = &cr->cookies,
        .max_response_text = MAX_RESPONSE_TEXT,
    };
    cr->cur = xhr_run_start(&env, &cr->c->steps[cr->step_i].u.xhr, step_finished, cr);
    if (!cr->cur) {
        reasons_add(&cr->reasons, "out of memory");
        cr->attempt_verdict = V_ERROR;
        finish_attempt(cr);
    }
}

static void deadline_hit(struct ev_loop *loop, ev_timer *w, int revents)
{
    case_run *cr = w->data;
    cr->deadline_hit = true;
    if (cr->cur)
        xhr_run_deadline(cr->cur); /* reports: step_finished grades and stops the case */
    else
        finish_attempt(cr);
}

static void start_attempt(case_run *cr)
{
    runner *rn = cr->rn;
    trace_init(&cr->trace);
    if (rn->config->trace_text_cap)
        cr->trace.text_cap = rn->config->trace_text_cap;
    cr->step_i = 0;
    cr->rep_i = 0;
    cr->stopped = cr->deadline_hit = false;
    cr->attempt_verdict = V_PASS;
    cors_cache_free(&cr->preflight_cache); /* every attempt is a fresh page */
    cookie_jar_free(&cr->cookies);
    ev_now_update(rn->loop); /* timers count from now, not from the last loop iteration */
    cr->started = clock_now_us();
    double limit = (double)case_deadline_us(rn, cr) / 1e6;
    ev_timer_set(&cr->deadline, limit, limit);
    ev_timer_start(rn->loop, &cr->deadline);
    if (cr->c->n_steps == 0) {
        finish_attempt(cr);
        return;
    }
    run_step(cr);
}

/* The emulated page is the document at "/" of its origin. */
static int set_path_root(url *u)
{
    free(u->path_query);
    u->path_query = strdup("/");
    return u->path_query ? 0 : -1;
}

/* Origin and URL of the emulated page: the case's page_origin, the suite's, or the
 * target's own origin (same-origin requests). */
static int setup_page(case_run *cr, char *err, size_t errlen)
{
    const char *po = cr->c->page_origin ? cr->c->page_origin : cr->s->page_origin;
    if (!po) {
        if (url_copy(&cr->page_url, &cr->target) < 0)
            return -1;
    } else if (url_parse(&cr->page_url, po, err, errlen) < 0) {
        return -1;
    }
    cr->page_origin = url_origin(&cr->page_url);
    return set_path_root(&cr->page_url);
}

static void start_case(runner *rn, size_t slot)
{
    pending_case *p = &rn->pending[slot];
    case_result *res = &rn->out->cases[slot];
    res->suite = strdup(p->s->name);
    res->name = strdup(p->c->name);
    res->file = strdup(p->s->file);
    res->line = p->c->pos.line;
    int repeat = rn->config->repeat > 0 ? rn->config->repeat : 1;
    res->attempt_verdicts = calloc((size_t)repeat, sizeof *res->attempt_verdicts);
    case_run *cr = calloc(1, sizeof *cr);
    char err[256] = "";
    if (cr) {
        cr->s = p->s;
        cr->c = p->c;
    }
    if (!cr || !res->attempt_verdicts || url_parse(&cr->target, p->target, err, sizeof err) < 0 ||
        setup_page(cr, err, sizeof err) < 0) {
        if (cr) {
            url_free(&cr->target);
            url_free(&cr->page_url);
            free(cr->page_origin);
            free(cr);
        }
        res->verdict = V_ERROR;
        res->attempts = 1;
        reasons_add(&res->reasons, "%s", err[0] ? err : "out of memory");
        rn->out->counts[V_ERROR]++;
        if (rn->config->console)
            report_console_case(rn->config->console, res, &rn->config->console_opts);
        return;
    }
    cr->rn = rn;
    cr->slot = slot;
    cr->res = res;
    ev_timer_init(&cr->deadline, deadline_hit, 0.0, 0.0);
    cr->deadline.data = cr;
    ev_timer_init(&cr->gap, gap_done, 0.0, 0.0);
    cr->gap.data = cr;
    rn->active[rn->running++] = cr;
    start_attempt(cr);
}

static void skip_case(runner *rn, size_t slot, const char *why)
{
    pending_case *p = &rn->pending[slot];
    case_result *res = &rn->out->cases[slot];
    res->suite = strdup(p->s->name);
    res->name = strdup(p->c->name);
    res->file = strdup(p->s->file);
    res->line = p->c->pos.line;
    res->verdict = V_ERROR;
    res->attempts = 1;
    reasons_add(&res->reasons, "%s", why);
    rn->out->counts[V_ERROR]++;
    if (rn->config->console)
        report_console_case(rn->config->console, res, &rn->config->console_opts);
}

static void start_next_cases(runner *rn)
{
    int jobs = rn->config->jobs > 0 ? rn->config->jobs : 1;
    while (rn->next < rn->n_pending && rn->running < (size_t)jobs) {
        size_t slot = rn->next++;
        const suite *s = rn->pending[slot].s;
        if (s != rn->suite_of_deadline) {
            rn->suite_of_deadline = s;
            rn->suite_started = clock_now_us();
        }
        if (rn->config->suite_timeout_us > 0 &&
            clock_now_us() - rn->suite_started > rn->config->suite_timeout_us) {
            skip_case(rn, slot, "not run: the suite deadline was reached");
            continue;
        }
        start_case(rn, slot);
    }
    if (rn->running == 0 && rn->next >= rn->n_pending)
        ev_break(rn->loop, EVBREAK_ALL);
}

/* ---- interruption ------------------------------------------------------------------------ */

static void interrupted(struct ev_loop *loop, ev_signal *w, int revents)
{
    runner *rn = w->data;
    rn->out->interrupted = true;
    while (rn->running) {
        case_run *cr = rn->active[rn->running - 1];
        if (cr->cur) {
            xhr_run_free(cr->cur);
            cr->cur = NULL;
        }
        reasons_add(&cr->reasons, "interrupted before the case finished");
        cr->attempt_verdict = V_ERROR;
        cr->res->attempt_verdicts[cr->attempt] = V_ERROR;
        cr->res->attempts = cr->attempt + 1;
        keep_worst_attempt(cr);
        publish(cr);
        remove_active(rn, cr);
        case_run_free(cr);
    }
    rn->out->n_cases = rn->next; /* cases never started are left out */
    ev_break(loop, EVBREAK_ALL);
}

/* ---- set-up ----------------------------------------------------------------------------------- */

static bool case_selected(const runner_config *c, const suite *s, const scenario_case *k)
{
    if (!c->filter || !*c->filter)
        return true;
    buf b = {0};
    buf_printf(&b, "%s/%s", s->name, k->name);
    bool hit = strpbrk(c->filter, "*?[") ? fnmatch(c->filter, b.data, FNM_CASEFOLD) == 0
                                         : strcasestr(b.data, c->filter) != NULL;
    buf_free(&b);
    return hit;
}

typedef struct probe {
    bool done;
    transport_error err;
    char detail[256];
    transport *t;
} probe;

static void probe_connected(void *ud)
{
    probe *p = ud;
    p->done = true;
}

static void probe_error(void *ud, transport_error e, const char *detail)
{
    probe *p = ud;
    p->done = true;
    p->err = e;
    snprintf(p->detail, sizeof p->detail, "%s%s%s", transport_error_name(e),
             detail && *detail ? ": " : "", detail ? detail : "");
}

static void probe_eof(void *ud)
{
    (void)ud;
}

/* A target that cannot be reached at all gives exit 3 before anything runs. */
static int probe_target(runner *rn, const char *target)
{
    url u;
    char err[256];
    if (url_parse(&u, target, err, sizeof err) < 0) {
        fprintf(stderr, "comet: bad target: %s\n", err);
        return 2;
    }
    probe p = {0};
    transport_callbacks cb = {.on_connected = probe_connected, .on_error = probe_error,
                              .on_eof = probe_eof};
    transport_opts o = {.connect_timeout_us = rn->fetch.connect_timeout_us,
                        .tls = url_is_tls(&u) ? rn->fetch.tls : NULL, .sni = u.host};
    p.t = transport_connect(rn->loop, u.host, u.port, &o, &cb, &p);
    while (p.t && !p.done)
        ev_run(rn->loop, EVRUN_ONCE);
    if (p.t)
        transport_close(p.t, false);
    url_free(&u);
    if (p.err != TE_NONE) {
        fprintf(stderr, "comet: cannot reach %s: %s\n", target, p.detail);
        return 3;
    }
    return 0;
}

static char *iso8601_now(void)
{
    char s[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strdup(s);
}

int runner_run(suite *const *suites, size_t n_suites, const runner_config *c, run_result *out)
{
    memset(out, 0, sizeof *out);
    out->started_at = iso8601_now();
    runner rn = {.config = c};
    rn.loop = ev_loop_new(EVFLAG_AUTO);
    if (!rn.loop)
        return 2;
    char err[256];
    tls_client_opts to = {.verify = !c->insecure, .ca_file = c->ca_file, .alpn = "http/1.1"};
    rn.fetch = (fetch_config){
        .loop = rn.loop,
        .tls = tls_client_context(&to, err, sizeof err),
        .connect_timeout_us = c->connect_timeout_us > 0 ? c->connect_timeout_us : 10000000,
        .max_redirects = 20,
    };
    if (!rn.fetch.tls)
        fprintf(stderr, "comet: TLS unavailable: %s\n", err);

    /* which cases, against which targets */
    size_t total = 0;
    for (size_t i = 0; i < n_suites; i++)
        total += suites[i]->n_cases;
    rn.pending = calloc(total ? total : 1, sizeof *rn.pending);
    out->cases = calloc(total ? total : 1, sizeof *out->cases);
    rn.active = calloc((size_t)(c->jobs > 0 ? c->jobs : 1), sizeof *rn.active);
    fixture *fx = NULL;
    int rc = 0;
    buf targets = {0};
    for (size_t i = 0; i < n_suites && rc == 0; i++) {
        const char *target = c->target ? c->target : suites[i]->target;
        if (!target) {
            if (!fx) {
                fixture_opts fo = {.listen = "127.0.0.1:0", .base_dir = c->fixture_dir};
                fx = fixture_start(rn.loop, &fo, err, sizeof err);
                if (!fx) {
                    fprintf(stderr, "comet: cannot start the embedded fixture server: %s\n", err);
                    rc = 2;
                    break;
                }
            }
            target = fixture_url(fx);
        } else if (!strstr(targets.data ? targets.data : "", target)) {
            buf_printf(&targets, "%s\n", target);
            rc = probe_target(&rn, target);
        }
        for (size_t k = 0; k < suites[i]->n_cases; k++)
            if (case_selected(c, suites[i], &suites[i]->cases[k]))
                rn.pending[rn.n_pending++] = (pending_case){suites[i], &suites[i]->cases[k], target};
    }
    out->target = strdup(c->target ? c->target : fx ? fixture_url(fx) : "(per suite)");
    if (fx && !c->target) {
        free(out->target);
        buf b = {0};
        buf_printf(&b, "embedded fixture %s", fixture_url(fx));
        out->target = buf_take(&b);
    }
    buf_free(&targets);
    out->n_cases = rn.n_pending;
    int64_t t0 = clock_now_us();
    if (rc == 0 && rn.n_pending) {
        /* A background job of a non-interactive shell starts with SIGINT ignored, and an
         * ignored signal never reaches libev's signalfd: take the default back. */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        ev_signal_init(&rn.sigint, interrupted, SIGINT);
        ev_signal_init(&rn.sigterm, interrupted, SIGTERM);
        rn.sigint.data = rn.sigterm.data = &rn;
        ev_signal_start(rn.loop, &rn.sigint);
        ev_signal_start(rn.loop, &rn.sigterm);
        rn.out = out;
        start_next_cases(&rn);
        if (rn.running || rn.next < rn.n_pending)
            ev_run(rn.loop, 0);
        ev_signal_stop(rn.loop, &rn.sigint);
        ev_signal_stop(rn.loop, &rn.sigterm);
    }
    out->duration_us = clock_now_us() - t0;
    if (fx)
        fixture_stop(fx);
    if (rn.fetch.tls)
        tls_context_free(rn.fetch.tls);
    free(rn.pending);
    free(rn.active);
    ev_loop_destroy(rn.loop);
    return rc;
}
