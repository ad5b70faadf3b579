/* smp — choosing the next token from logits: greedy, temperature, top-k, top-p, min-p, seeded. */
#ifndef SMP_H
#define SMP_H
#include <stdint.h>

typedef struct {
    float temp;        /* <= 0: greedy */
    int top_k;         /* <= 0: off */
    float top_p;       /* >= 1: off */
    float min_p;       /* <= 0: off */
    uint64_t seed;
} smp_params;

typedef struct smp_sampler smp_sampler;
int smp_create(smp_sampler **out, const smp_params *p, int vocab);
void smp_free(smp_sampler *s);
/* Changes the settings; the random stream restarts from p->seed only if reseed. */
void smp_set(smp_sampler *s, const smp_params *p, int reseed);
const smp_params *smp_get(const smp_sampler *s);
/* Random state, to save and restore a run exactly. */
uint64_t smp_state(const smp_sampler *s);
void smp_set_state(smp_sampler *s, uint64_t state);
/* Picks a token (logits are not modified). */
int smp_next(smp_sampler *s, const float *logits);
int smp_argmax(const float *logits, int n);
#endif
