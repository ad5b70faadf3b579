/* Sampling: temperature, then top-k, top-p (nucleus) and min-p over the surviving candidates, in
 * that order (as transformers applies them); a seeded splitmix64 stream makes runs repeatable. */
#include "model/smp.h"
#include "kernels/k.h"
#include <math.h>
#include <stdlib.h>

struct smp_sampler {
    smp_params p;
    int vocab;
    uint64_t state;
    struct cand *c;    /* [vocab] candidates */
};

typedef struct cand { int id; float v; } cand;

int smp_create(smp_sampler **out, const smp_params *p, int vocab) {
    smp_sampler *s = calloc(1, sizeof *s);
    if (!s || vocab <= 0 || !(s->c = malloc((size_t)vocab * sizeof *s->c))) {
        smp_free(s);
        *out = NULL;
        return -1;
    }
    s->vocab = vocab;
    smp_set(s, p, 1);
    *out = s;
    return 0;
}

void smp_free(smp_sampler *s) {
    if (!s) return;
    free(s->c);
    free(s);
}

void smp_set(smp_sampler *s, const smp_params *p, int reseed) {
    s->p = *p;
    if (reseed) s->state = p->seed;
}

const smp_params *smp_get(const smp_sampler *s) { return &s->p; }
uint64_t smp_state(const smp_sampler *s) { return s->state; }
void smp_set_state(smp_sampler *s, uint64_t state) { s->state = state; }

static double next_uniform(smp_sampler *s) {
    uint64_t z = (s->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

int smp_argmax(const float *logits, int n) { return (int)k_argmax(logits, n); }

static int by_value_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? 1 : -1;
    return x->id - y->id;
}

int smp_next(smp_sampler *s, const float *logits) {
    const smp_params *p = &s->p;
    if (p->temp <= 0) return smp_argmax(logits, s->vocab);
    int n = 0;
    cand *cs = s->c;
    float mx = logits[smp_argmax(logits, s->vocab)] / p->temp;
    if (p->top_k > 0 && p->top_k < s->vocab) {
        /* top-k by a min-heap of k candidates: O(vocab log k) instead of sorting the vocabulary */
        int k = p->top_k;
        for (int i = 0; i < s->vocab; i++) {
            cand x = {i, logits[i] / p->temp};
            if (n < k) {
                int j = n++;
                while (j > 0 && cs[(j - 1) / 2].v > x.v) cs[j] = cs[(j - 1) / 2], j = (j - 1) / 2;
                cs[j] = x;
            } else if (x.v > cs[0].v) {
                int j = 0;
                for (;;) {
                    int l = 2 * j + 1, r = l + 1, m = j;
                    float mv = x.v;
                    if (l < n && cs[l].v < mv) m = l, mv = cs[l].v;
                    if (r < n && cs[r].v < mv) m = r;
                    if (m == j) break;
                    cs[j] = cs[m];
                    j = m;
                }
                cs[j] = x;
            }
        }
    } else {
        /* tokens more than 40 nats below the best carry < 1e-17 of the mass each: leave them out */
        for (int i = 0; i < s->vocab; i++)
            if (logits[i] / p->temp >= mx - 40) cs[n++] = (cand){i, logits[i] / p->temp};
    }
    qsort(cs, (size_t)n, sizeof *cs, by_value_desc);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += (cs[i].v = (float)exp(cs[i].v - mx));
    for (int i = 0; i < n; i++) cs[i].v = (float)(cs[i].v / sum);
    if (p->top_p < 1) {        /* smallest prefix whose mass reaches top_p (at least one token) */
        double acc = 0;
        int keep = n;
        for (int i = 0; i < n; i++) {
            acc += cs[i].v;
            if (acc >= p->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (p->min_p > 0) {
        float floor_p = p->min_p * cs[0].v;
        int keep = 1;
        while (keep < n && cs[keep].v >= floor_p) keep++;
        n = keep;
    }
    sum = 0;
    for (int i = 0; i < n; i++) sum += cs[i].v;
    double r = next_uniform(s) * sum, acc = 0;
    int pick = cs[n - 1].id;
    for (int i = 0; i < n; i++) {
        acc += cs[i].v;
        if (r < acc) {
            pick = cs[i].id;
            break;
        }
    }
    return pick;
}
