/* gemmatool logits / chat: run the model over given ids (spec/cli.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "app/args.h"
#include "app/tool.h"
#include "model/gm.h"
#include "model/smp.h"
#include "model/st.h"

static int load(int argc, char **argv, gm_model **m, char *err, size_t errlen) {
    const char *dir = args_get(argc, argv, "--model"), *th = args_get(argc, argv, "--threads");
    long threads = 0;
    if (!dir) {
        snprintf(err, errlen, "--model DIR is required");
        return -1;
    }
    if (th && (args_long(th, &threads) || threads < 0 || threads > 1024)) {
        snprintf(err, errlen, "bad --threads '%s'", th);
        return -1;
    }
    gm_load_opts o = {(int)threads, args_get(argc, argv, "--quant"), args_get(argc, argv, "--cache-dir")};
    return gm_load(m, dir, &o, err, errlen);
}

static int write_f32(const char *path, const char *name, const float *data, int64_t rows, int64_t cols, char *err,
                     size_t errlen) {
    st_tensor t = {.name = name, .dtype = ST_F32, .ndim = 2, .shape = {rows, cols}, .data = data,
                   .nbytes = (size_t)(rows * cols) * sizeof(float)};
    return st_write(path, &t, 1, err, errlen);
}

int tool_logits(int argc, char **argv) {
    static const char *const known[] = {"--model=", "--ids=", "--prefill=", "--out=", "--threads=", "--quant=", "--cache-dir=", NULL};
    char err[1024] = "";
    gm_model *m = NULL;
    gm_session *s = NULL;
    int32_t *ids = NULL;
    float *out = NULL;
    size_t n = 0;
    long prefill = -1;
    int rc = 1;
    const char *ids_s = args_get(argc, argv, "--ids"), *path = args_get(argc, argv, "--out");
    const char *pf = args_get(argc, argv, "--prefill");
    if (args_check(argc, argv, known, err, sizeof err)) goto done;
    if (!ids_s || !path) {
        snprintf(err, sizeof err, "--ids IDS and --out FILE are required");
        goto done;
    }
    if (args_ids(ids_s, &ids, &n, err, sizeof err)) goto done;
    if (pf && (args_long(pf, &prefill) || prefill < 1 || (size_t)prefill > n)) {
        snprintf(err, sizeof err, "bad --prefill '%s': expected 1..%zu", pf, n);
        goto done;
    }
    if (load(argc, argv, &m, err, sizeof err)) goto done;
    int64_t V = gm_config(m)->vocab;
    if (!(out = malloc(n * (size_t)V * sizeof *out))) {
        snprintf(err, sizeof err, "out of memory for %zu rows of logits", n);
        goto done;
    }
    if (gm_session_create(&s, m, (int)n, 0, err, sizeof err)) goto done;
    size_t first = prefill > 0 ? (size_t)prefill : n;
    if (gm_session_feed(s, ids, (int)first, out, 1, err, sizeof err)) goto done;
    for (size_t i = first; i < n; i++)
        if (gm_session_feed(s, ids + i, 1, out + i * V, 0, err, sizeof err)) goto done;
    if (write_f32(path, "logits", out, (int64_t)n, V, err, sizeof err)) goto done;
    rc = 0;
done:
    if (rc) args_complain("gemmatool logits", "%s", err);
    gm_session_free(s);
    gm_free(m);
    free(ids);
    free(out);
    return rc;
}

typedef struct {
    int32_t *ids;
    size_t n;
} id_list;

int tool_chat(int argc, char **argv) {
    static const char *const known[] = {"--model=", "--turn=", "--max-new=", "--stop=", "--out=", "--threads=", "--quant=", "--cache-dir=", NULL};
    char err[1024] = "";
    gm_model *m = NULL;
    gm_session *s = NULL;
    id_list turns[256] = {{0}}, stop = {0};
    float *steps = NULL;
    int nturns = 0, rc = 1;
    long max_new = -1;
    const char *mn = args_get(argc, argv, "--max-new"), *st = args_get(argc, argv, "--stop"), *path = args_get(argc, argv, "--out");
    if (args_check(argc, argv, known, err, sizeof err)) goto done;
    if (!mn || args_long(mn, &max_new) || max_new < 0 || max_new > 1000000) {
        snprintf(err, sizeof err, "--max-new N is required (a count >= 0)");
        goto done;
    }
    for (const char *t; (t = args_get_nth(argc, argv, "--turn", nturns));) {
        if (nturns == 256) {
            snprintf(err, sizeof err, "too many --turn options (at most 256)");
            goto done;
        }
        if (args_ids(t, &turns[nturns].ids, &turns[nturns].n, err, sizeof err)) goto done;
        nturns++;
    }
    if (!nturns) {
        snprintf(err, sizeof err, "at least one --turn IDS is required");
        goto done;
    }
    if (args_ids(st ? st : "1,106", &stop.ids, &stop.n, err, sizeof err)) goto done;
    if (load(argc, argv, &m, err, sizeof err)) goto done;
    int64_t V = gm_config(m)->vocab;
    size_t ctx = 0;
    for (int t = 0; t < nturns; t++) ctx += turns[t].n + (size_t)max_new;
    size_t max_steps = (size_t)nturns * (size_t)max_new;
    if (!(steps = malloc((max_steps ? max_steps : 1) * (size_t)V * sizeof *steps))) {
        snprintf(err, sizeof err, "out of memory");
        goto done;
    }
    if (gm_session_create(&s, m, (int)ctx, 0, err, sizeof err)) goto done;
    size_t nsteps = 0;
    for (int t = 0; t < nturns; t++) {
        float *lg = steps + nsteps * V;
        if (max_new == 0) {
            if (gm_session_feed(s, turns[t].ids, (int)turns[t].n, NULL, 0, err, sizeof err)) goto done;
            printf("\n");
            continue;
        }
        if (gm_session_feed(s, turns[t].ids, (int)turns[t].n, lg, 0, err, sizeof err)) goto done;
        for (long k = 0; k < max_new; k++) {
            lg = steps + nsteps * V;
            int32_t id = smp_argmax(lg, (int)V);
            nsteps++;
            printf("%s%d", k ? "," : "", id);
            int is_stop = 0;
            for (size_t i = 0; i < stop.n; i++) is_stop |= stop.ids[i] == id;
            if (is_stop) break;
            float *next = steps + nsteps * V;
            if (k + 1 < max_new) {
                if (gm_session_feed(s, &id, 1, next, 0, err, sizeof err)) goto done;
            } else if (gm_session_feed(s, &id, 1, NULL, 0, err, sizeof err)) goto done;
        }
        printf("\n");
        fflush(stdout);
    }
    if (path && write_f32(path, "step_logits", steps, (int64_t)nsteps, V, err, sizeof err)) goto done;
    rc = 0;
done:
    if (rc) args_complain("gemmatool chat", "%s", err);
    gm_session_free(s);
    gm_free(m);
    for (int t = 0; t < nturns; t++) free(turns[t].ids);
    free(stop.ids);
    free(steps);
    return rc;
}
