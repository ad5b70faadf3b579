/* cfg: every fixture's derived fields against models/README.md, both config layouts, zero-padded
 * per_layer_config keys, generation defaults, and one test per malformed case (message names file+problem). */
#include "model/cfg.h"
#include "tests/t.h"
#include <errno.h>
#include <ftw.h>
#include <json-c/json.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_NAME "fixture/config.json"
static char errbuf[1024];
static char tmpdir[256];

static const char *model_dir(const char *name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/models/%s", t_data(), name);
    return buf;
}

/* Like tiny-e: PLE, KV sharing, double-wide MLP, per_layer_config. */
static const char BASE[] =
    "{\"model_type\": \"gemma4_text\", \"vocab_size\": 4096, \"hidden_size\": 64, \"num_hidden_layers\": 6,"
    " \"num_attention_heads\": 4, \"num_key_value_heads\": 1, \"head_dim\": 16, \"intermediate_size\": 96,"
    " \"sliding_window\": 8, \"num_kv_shared_layers\": 2, \"use_double_wide_mlp\": true,"
    " \"hidden_size_per_layer_input\": 8, \"vocab_size_per_layer_input\": 4096, \"final_logit_softcapping\": 30.0,"
    " \"rms_norm_eps\": 1e-06, \"max_position_embeddings\": 4096, \"tie_word_embeddings\": true,"
    " \"attention_k_eq_v\": false, \"enable_moe_block\": false, \"num_experts\": null, \"top_k_experts\": null,"
    " \"moe_intermediate_size\": null, \"bos_token_id\": 2, \"pad_token_id\": 0, \"eos_token_id\": 1,"
    " \"layer_types\": [\"sliding_attention\", \"sliding_attention\", \"full_attention\", \"sliding_attention\","
    " \"sliding_attention\", \"full_attention\"],"
    " \"per_layer_config\": {\"2\": {\"head_dim\": 32}, \"5\": {\"head_dim\": 32}},"
    " \"rope_parameters\": {\"full_attention\": {\"partial_rotary_factor\": 0.25, \"rope_theta\": 1000000.0,"
    " \"rope_type\": \"proportional\"}, \"sliding_attention\": {\"rope_theta\": 10000.0, \"rope_type\": \"default\"}}}";

static json_object *base(void) { return json_tokener_parse(BASE); }

static void set(json_object *o, const char *key, const char *json) {
    if (json)
        json_object_object_add(o, key, json_tokener_parse(json));
    else
        json_object_object_del(o, key);
}

static int parse(cfg_model *c, json_object *o) {
    const char *s = json_object_to_json_string(o);
    return cfg_parse(c, s, strlen(s), FILE_NAME, errbuf, sizeof errbuf);
}

/* Parses (and frees) o expecting an error that names the file and contains `what`. */
static void expect_bad(const char *name, json_object *o, const char *what) {
    static cfg_model c;
    errbuf[0] = 0;
    int rc = parse(&c, o);
    T_CHECK(rc < 0 && strstr(errbuf, FILE_NAME) && strstr(errbuf, what), name, "rc %d, message '%s' (want '%s')", rc,
            errbuf, what);
    json_object_put(o);
}

static void bad_text(const char *name, const char *text, const char *what) {
    static cfg_model c;
    errbuf[0] = 0;
    int rc = cfg_parse(&c, text, strlen(text), FILE_NAME, errbuf, sizeof errbuf);
    T_CHECK(rc < 0 && strstr(errbuf, FILE_NAME) && strstr(errbuf, what), name, "rc %d, message '%s' (want '%s')", rc,
            errbuf, what);
}

static int ints_are(const int *v, int n, const int *want) {
    for (int i = 0; i < n; i++)
        if (v[i] != want[i]) return 0;
    return 1;
}

static void check_common(const char *name, const cfg_model *c) {
    char label[128];
    snprintf(label, sizeof label, "cfg %s: shared settings (vocab, softcap, eps, tie, RoPE)", name);
    T_CHECK(c->vocab == 4096 && c->ple_vocab == 4096 && c->final_softcap == 30.0 && c->eps == 1e-6 &&
                c->tie_embeddings && !strcmp(c->rope[CFG_SLIDING].rope_type, "default") &&
                c->rope[CFG_SLIDING].theta == 1e4 && c->rope[CFG_SLIDING].partial_rotary == 1.0 &&
                !strcmp(c->rope[CFG_FULL].rope_type, "proportional") && c->rope[CFG_FULL].theta == 1e6 &&
                c->rope[CFG_FULL].partial_rotary == 0.25 && c->type[c->n_layers - 1] == CFG_FULL && c->bos_id == 2 &&
                c->pad_id == 0,
            label, "vocab %d softcap %g eps %g", c->vocab, c->final_softcap, c->eps);
}

static int load(const char *name, cfg_model *c) {
    int rc = cfg_load(c, model_dir(name), errbuf, sizeof errbuf);
    char label[128];
    snprintf(label, sizeof label, "cfg %s: loads", name);
    T_CHECK(rc == 0, label, "%s", errbuf);
    if (!rc) check_common(name, c);
    return rc;
}

/* Every config.json field, so the two layouts of one model can be compared whole. */
static const char *text_diff(const cfg_model *a, const cfg_model *b) {
#define SAME(f)                                                                                                        \
    if (memcmp(&a->f, &b->f, sizeof a->f)) return #f
    SAME(vocab);
    SAME(hidden);
    SAME(n_layers);
    SAME(n_heads);
    SAME(n_kv_heads);
    SAME(head_dim);
    SAME(inter);
    SAME(sliding_window);
    SAME(n_kv_shared);
    SAME(double_wide_mlp);
    SAME(ple_dim);
    SAME(ple_vocab);
    SAME(k_eq_v);
    SAME(moe);
    SAME(n_experts);
    SAME(top_k_experts);
    SAME(moe_inter);
    SAME(final_softcap);
    SAME(eps);
    SAME(max_pos);
    SAME(tie_embeddings);
    SAME(rope);
    SAME(type);
    SAME(layer_head_dim);
    SAME(layer_kv_heads);
    SAME(layer_inter);
    SAME(kv_source);
    SAME(first_shared);
#undef SAME
    return NULL;
}

static void test_fixtures(void) {
    static cfg_model e, d, h, m, w, c;
    if (!load("tiny-e", &e)) {
        static const int types[6] = {0, 0, 1, 0, 0, 1}, hd[6] = {16, 16, 32, 16, 16, 32}, kv[6] = {1, 1, 1, 1, 1, 1};
        static const int inter[6] = {96, 96, 96, 96, 192, 192}, src[6] = {0, 1, 2, 3, 3, 2};
        T_CHECK(e.hidden == 64 && e.n_layers == 6 && e.n_heads == 4 && e.n_kv_heads == 1 && e.head_dim == 16 &&
                    e.inter == 96 && e.sliding_window == 8 && e.ple_dim == 8 && e.n_kv_shared == 2 &&
                    e.double_wide_mlp && !e.k_eq_v && !e.moe && !e.nested,
                "cfg tiny-e: sizes", "hidden %d layers %d", e.hidden, e.n_layers);
        T_CHECK(ints_are((const int *)e.type, 6, types) && ints_are(e.layer_head_dim, 6, hd) &&
                    ints_are(e.layer_kv_heads, 6, kv),
                "cfg tiny-e: layer types S,S,F,S,S,F, head dims 16/32", "wrong");
        T_CHECK(e.first_shared == 4 && ints_are(e.kv_source, 6, src), "cfg tiny-e: kv_source 4->3, 5->2",
                "F %d, src4 %d src5 %d", e.first_shared, e.kv_source[4], e.kv_source[5]);
        T_CHECK(ints_are(e.layer_inter, 6, inter), "cfg tiny-e: layer_inter 96 / 192 on shared layers", "wrong");
        T_CHECK(!e.do_sample && e.temperature == 1.0 && e.top_k == 0 && e.top_p == 1.0 && e.min_p == 0 &&
                    e.n_eos == 1 && e.eos_ids[0] == 1,
                "cfg tiny-e: generation defaults, eos [1]", "sample %d T %g k %d p %g eos n %d", e.do_sample,
                e.temperature, e.top_k, e.top_p, e.n_eos);
    }
    if (!load("tiny-dense", &d)) {
        static const int hd[6] = {16, 16, 32, 16, 16, 32}, kv[6] = {2, 2, 1, 2, 2, 1}, src[6] = {0, 1, 2, 3, 4, 5};
        T_CHECK(d.k_eq_v && d.n_kv_heads == 2 && ints_are(d.layer_kv_heads, 6, kv) && ints_are(d.layer_head_dim, 6, hd),
                "cfg tiny-dense: full layers K=V with 1 KV head of dim 32", "kv %d/%d", d.layer_kv_heads[0],
                d.layer_kv_heads[2]);
        T_CHECK(d.ple_dim == 0 && d.n_kv_shared == 0 && d.first_shared == 6 && ints_are(d.kv_source, 6, src) &&
                    d.inter == 128 && d.layer_inter[5] == 128 && !d.nested,
                "cfg tiny-dense: no PLE, no KV sharing, MLP 128", "ple %d F %d", d.ple_dim, d.first_shared);
    }
    if (!load("tiny-dense-hub", &h) && d.n_layers) {
        const char *diff = text_diff(&h, &d);
        T_CHECK(h.nested && !diff, "cfg tiny-dense-hub: equals tiny-dense in every config field",
                "nested %d, differs in %s", h.nested, diff ? diff : "-");
        T_CHECK(h.do_sample && h.temperature == 1.0 && h.top_k == 64 && h.top_p == 0.95 && h.n_eos == 3 &&
                    h.eos_ids[0] == 1 && h.eos_ids[1] == 106 && h.eos_ids[2] == 50,
                "cfg tiny-dense-hub: instruction-tuned generation config, eos [1, 106, 50]", "n_eos %d", h.n_eos);
    }
    if (!load("tiny-moe", &m)) {
        static const int types[4] = {0, 0, 0, 1}, kv[4] = {2, 2, 2, 1}, hd[4] = {16, 16, 16, 32};
        T_CHECK(m.moe && m.n_experts == 8 && m.top_k_experts == 2 && m.moe_inter == 32 && m.inter == 128 &&
                    m.n_layers == 4,
                "cfg tiny-moe: 8 experts, top-2, width 32, dense MLP 128", "E %d k %d M %d", m.n_experts,
                m.top_k_experts, m.moe_inter);
        T_CHECK(ints_are((const int *)m.type, 4, types) && ints_are(m.layer_kv_heads, 4, kv) &&
                    ints_are(m.layer_head_dim, 4, hd) && m.k_eq_v,
                "cfg tiny-moe: S,S,S,F with K=V full layer", "wrong");
    }
    if (!load("wide-e", &w)) {
        static const int types[7] = {0, 0, 0, 0, 1, 0, 1}, hd[7] = {256, 256, 256, 256, 512, 256, 512};
        static const int inter[7] = {512, 512, 512, 512, 512, 1024, 1024}, src[7] = {0, 1, 2, 3, 4, 3, 4};
        T_CHECK(w.hidden == 256 && w.n_heads == 8 && w.n_kv_heads == 1 && w.sliding_window == 512 && w.ple_dim == 32 &&
                    ints_are((const int *)w.type, 7, types) && ints_are(w.layer_head_dim, 7, hd),
                "cfg wide-e: E2B attention geometry", "hidden %d window %d", w.hidden, w.sliding_window);
        T_CHECK(w.first_shared == 5 && ints_are(w.kv_source, 7, src) && ints_are(w.layer_inter, 7, inter),
                "cfg wide-e: kv_source 5->3, 6->4, MLP 512 / 1024", "src %d %d", w.kv_source[5], w.kv_source[6]);
    }
    if (!load("tiny-chat", &c)) {
        static const int hd[6] = {48, 48, 96, 48, 48, 96}, inter[6] = {384, 384, 384, 384, 768, 768};
        T_CHECK(c.hidden == 192 && c.sliding_window == 64 && c.ple_dim == 16 && ints_are(c.layer_head_dim, 6, hd) &&
                    ints_are(c.layer_inter, 6, inter) && c.kv_source[4] == 3 && c.kv_source[5] == 2,
                "cfg tiny-chat: geometry", "hidden %d", c.hidden);
        T_CHECK(c.do_sample && c.temperature == 1.0 && c.top_k == 64 && c.top_p == 0.95 && c.n_eos == 2 &&
                    c.eos_ids[1] == 106,
                "cfg tiny-chat: generation config, eos [1, 106]", "n_eos %d", c.n_eos);
    }
}

static void test_layouts(void) {
    static cfg_model c;
    json_object *o = base();
    set(o, "num_hidden_layers", "12");
    set(o, "layer_types", NULL);
    set(o, "num_kv_shared_layers", "0");
    set(o, "per_layer_config", "{\"05\": {\"head_dim\": 32}, \"011\": {\"head_dim\": 32}, \"08\": {\"head_dim\": 24}}");
    int rc = parse(&c, o);
    T_CHECK(rc == 0 && c.layer_head_dim[5] == 32 && c.layer_head_dim[11] == 32 && c.layer_head_dim[8] == 24 &&
                c.layer_head_dim[9] == 16 && c.layer_head_dim[0] == 16,
            "cfg: zero-padded per_layer_config keys are decimal (05, 08, 011)", "%s hd5 %d hd8 %d hd9 %d hd11 %d",
            rc ? errbuf : "", c.layer_head_dim[5], c.layer_head_dim[8], c.layer_head_dim[9], c.layer_head_dim[11]);
    T_CHECK(rc == 0 && c.type[5] == CFG_FULL && c.type[11] == CFG_FULL && c.type[4] == CFG_SLIDING &&
                c.type[6] == CFG_SLIDING,
            "cfg: absent layer_types give full at l % 6 == 5", "types wrong");
    json_object_put(o);

    o = base();
    set(o, "num_hidden_layers", "8");
    set(o, "layer_types", NULL);
    set(o, "per_layer_config", NULL);
    rc = parse(&c, o);
    T_CHECK(rc == 0 && c.type[5] == CFG_FULL && c.type[7] == CFG_FULL && c.type[6] == CFG_SLIDING &&
                c.layer_head_dim[7] == 512 && c.layer_head_dim[6] == 16 && c.kv_source[6] == 4 && c.kv_source[7] == 5,
            "cfg: default pattern forces the last layer full; full head dim defaults to 512", "%s hd7 %d",
            rc ? errbuf : "", c.layer_head_dim[7]);
    json_object_put(o);

    o = base();
    set(o, "layer_types",
        "[\"sliding_attention\", \"sliding_attention\", \"full_attention\", \"sliding_attention\","
        " \"full_attention\", \"sliding_attention\"]");
    rc = parse(&c, o);
    T_CHECK(rc == 0 && c.type[5] == CFG_FULL && c.type[4] == CFG_FULL && c.kv_source[4] == 2 && c.kv_source[5] == 2,
            "cfg: an explicit sliding last layer is forced to full", "%s", rc ? errbuf : "type not forced");
    json_object_put(o);

    /* The older flat form: global_head_dim / num_global_key_value_heads (used only with K=V). */
    o = base();
    set(o, "per_layer_config", NULL);
    set(o, "global_head_dim", "64");
    set(o, "num_global_key_value_heads", "1");
    set(o, "num_key_value_heads", "2");
    set(o, "attention_k_eq_v", "true");
    rc = parse(&c, o);
    T_CHECK(rc == 0 && c.layer_head_dim[2] == 64 && c.layer_head_dim[1] == 16 && c.layer_kv_heads[2] == 1 &&
                c.layer_kv_heads[1] == 2,
            "cfg: global_head_dim and num_global_key_value_heads with K=V", "%s", rc ? errbuf : "wrong");
    set(o, "attention_k_eq_v", "false");
    rc = parse(&c, o);
    T_CHECK(rc == 0 && c.layer_kv_heads[2] == 2, "cfg: num_global_key_value_heads ignored without K=V", "%s kv %d",
            rc ? errbuf : "", c.layer_kv_heads[2]);
    set(o, "attention_k_eq_v", "true");
    set(o, "per_layer_config", "{\"5\": {\"num_key_value_heads\": 4}}");
    rc = parse(&c, o);
    T_CHECK(rc == 0 && c.layer_kv_heads[5] == 4 && c.layer_head_dim[5] == 16 && c.layer_kv_heads[2] == 2 &&
                c.layer_head_dim[2] == 16,
            "cfg: per_layer_config present, so the flat global keys are ignored (as transformers does)",
            "%s kv5 %d hd5 %d kv2 %d hd2 %d", rc ? errbuf : "", c.layer_kv_heads[5], c.layer_head_dim[5],
            c.layer_kv_heads[2], c.layer_head_dim[2]);
    json_object_put(o);

    o = base();
    set(o, "use_double_wide_mlp", "false");
    rc = parse(&c, o);
    T_CHECK(rc == 0 && c.layer_inter[5] == 96, "cfg: no doubling without use_double_wide_mlp", "%d", c.layer_inter[5]);
    set(o, "rope_parameters", NULL);
    set(o, "final_logit_softcapping", "null");
    set(o, "hidden_size_per_layer_input", NULL);
    rc = parse(&c, o);
    T_CHECK(rc == 0 && !strcmp(c.rope[CFG_FULL].rope_type, "proportional") && c.rope[CFG_FULL].partial_rotary == 0.25 &&
                c.rope[CFG_SLIDING].theta == 1e4 && c.final_softcap == 0 && c.ple_dim == 256,
            "cfg: absent rope_parameters / softcap / PLE width take transformers' defaults", "%s",
            rc ? errbuf : "wrong");
    set(o, "rope_parameters", "{\"full_attention\": {\"rope_type\": \"default\", \"rope_theta\": 500000}}");
    rc = parse(&c, o);
    T_CHECK(rc == 0 && !strcmp(c.rope[CFG_FULL].rope_type, "default") && c.rope[CFG_FULL].theta == 5e5 &&
                c.rope[CFG_FULL].partial_rotary == 1.0 && c.rope[CFG_SLIDING].theta == 1e4,
            "cfg: rope per type, missing type keeps its default", "%s", rc ? errbuf : "wrong");
    json_object_put(o);

    o = base();
    set(o, "eos_token_id", NULL);
    set(o, "bos_token_id", NULL);
    set(o, "pad_token_id", "null");
    set(o, "use_bidirectional_attention", "\"vision\"");
    set(o, "hidden_activation", "\"gelu_pytorch_tanh\"");
    rc = parse(&c, o);
    T_CHECK(rc == 0 && c.n_eos == 1 && c.eos_ids[0] == 1 && c.bos_id == 2 && c.pad_id == 0,
            "cfg: absent special ids take transformers' defaults (bos 2, pad 0, eos 1)", "%s", rc ? errbuf : "wrong");
    json_object_put(o);

    o = base();
    set(o, "enable_moe_block", "true");
    set(o, "num_experts", "4");
    set(o, "top_k_experts", "2");
    set(o, "moe_intermediate_size", "null");
    set(o, "expert_intermediate_size", "24");
    rc = parse(&c, o);
    T_CHECK(rc == 0 && c.moe && c.n_experts == 4 && c.moe_inter == 24, "cfg: expert_intermediate_size accepted", "%s",
            rc ? errbuf : "wrong");
    json_object_put(o);

    /* Published layout: the wrapper's eos list wins over text_config's. */
    json_object *nest = json_tokener_parse("{\"model_type\": \"gemma4\", \"eos_token_id\": [1, 106]}");
    json_object *text = base();
    set(text, "eos_token_id", "7");
    json_object_object_add(nest, "text_config", text);
    rc = parse(&c, nest);
    T_CHECK(rc == 0 && c.nested && c.n_eos == 2 && c.eos_ids[1] == 106 && c.layer_head_dim[2] == 32,
            "cfg: nested layout, top-level eos wins", "%s n_eos %d", rc ? errbuf : "", c.n_eos);
    set(nest, "eos_token_id", NULL);
    rc = parse(&c, nest);
    T_CHECK(rc == 0 && c.n_eos == 1 && c.eos_ids[0] == 7, "cfg: nested layout, text_config eos when no top-level one",
            "n_eos %d", c.n_eos);
    json_object_put(nest);
}

static void test_generation(void) {
    static cfg_model c, before;
    json_object *o = base();
    if (parse(&c, o)) {
        T_CHECK(0, "cfg: base parses", "%s", errbuf);
        json_object_put(o);
        return;
    }
    json_object_put(o);
    before = c;
    const char *g = "{\"do_sample\": true, \"temperature\": 0.7, \"top_k\": 40, \"top_p\": 0.9, \"min_p\": 0.05,"
                    " \"eos_token_id\": [1, 106, 50], \"bos_token_id\": 2, \"pad_token_id\": 0}";
    int rc = cfg_parse_generation(&c, g, strlen(g), "gen.json", errbuf, sizeof errbuf);
    T_CHECK(rc == 0 && c.do_sample && c.temperature == 0.7 && c.top_k == 40 && c.top_p == 0.9 && c.min_p == 0.05 &&
                c.n_eos == 3 && c.eos_ids[2] == 50 && c.hidden == 64,
            "cfg gen: every key read, eos list replaces config's", "%s", rc ? errbuf : "wrong");
    c = before;
    g = "{\"temperature\": 0.5, \"eos_token_id\": null}";
    rc = cfg_parse_generation(&c, g, strlen(g), "gen.json", errbuf, sizeof errbuf);
    T_CHECK(rc == 0 && c.temperature == 0.5 && !c.do_sample && c.top_k == 0 && c.n_eos == 1 && c.eos_ids[0] == 1,
            "cfg gen: absent keys keep config eos and defaults", "%s", rc ? errbuf : "wrong");
    static const struct {
        const char *name, *json, *what;
    } bad[] = {
        {"cfg gen bad: temperature not a number", "{\"temperature\": \"hot\"}", "temperature must be a number"},
        {"cfg gen bad: negative temperature", "{\"temperature\": -1}", "temperature = -1 is out of range"},
        {"cfg gen bad: top_p above 1", "{\"top_p\": 1.5}", "top_p = 1.5 is out of range"},
        {"cfg gen bad: min_p negative", "{\"min_p\": -0.1}", "min_p = -0.1 is out of range"},
        {"cfg gen bad: top_k negative", "{\"top_k\": -3}", "top_k = -3 is out of range"},
        {"cfg gen bad: do_sample not bool", "{\"do_sample\": \"yes\"}", "do_sample must be true or false"},
        {"cfg gen bad: eos string", "{\"eos_token_id\": \"1\"}", "eos_token_id must be an integer or a list"},
        {"cfg gen bad: eos beyond vocab", "{\"eos_token_id\": [1, 4096]}", "eos_token_id 4096 is not a token id"},
        {"cfg gen bad: eos list too long", "{\"eos_token_id\": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}",
         "lists 17 ids"},
        {"cfg gen bad: bos beyond vocab", "{\"bos_token_id\": 99999}", "bos_token_id = 99999 is out of range"},
        {"cfg gen bad: invalid JSON", "{\"top_k\": }", "invalid JSON"},
        {"cfg gen bad: not an object", "[1]", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        c = before;
        errbuf[0] = 0;
        rc = cfg_parse_generation(&c, bad[i].json, strlen(bad[i].json), "gen.json", errbuf, sizeof errbuf);
        T_CHECK(rc < 0 && strstr(errbuf, "gen.json") && strstr(errbuf, bad[i].what) && c.temperature == 1.0 &&
                    c.n_eos == 1,
                bad[i].name, "rc %d, message '%s'", rc, errbuf);
    }
}

static void test_bad_configs(void) {
    static const char *const required[] = {"vocab_size",          "hidden_size",         "num_hidden_layers",
                                           "num_attention_heads", "num_key_value_heads", "head_dim",
                                           "intermediate_size",   "sliding_window"};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
        char name[128], what[128];
        json_object *o = base();
        set(o, required[i], NULL);
        snprintf(name, sizeof name, "cfg bad: missing %s", required[i]);
        snprintf(what, sizeof what, "missing required key %s", required[i]);
        expect_bad(name, o, what);
        o = base();
        set(o, required[i], "null");
        snprintf(name, sizeof name, "cfg bad: null %s", required[i]);
        expect_bad(name, o, what);
    }
    static const struct {
        const char *name, *key, *value, *what;
    } cases[] = {
        {"cfg bad: hidden_size a string", "hidden_size", "\"64\"", "hidden_size must be an integer"},
        {"cfg bad: hidden_size fractional", "hidden_size", "64.5", "hidden_size must be an integer"},
        {"cfg bad: hidden_size boolean", "hidden_size", "true", "hidden_size must be an integer"},
        {"cfg bad: hidden_size zero", "hidden_size", "0", "hidden_size = 0 is out of range"},
        {"cfg bad: hidden_size negative", "hidden_size", "-64", "hidden_size = -64 is out of range"},
        {"cfg bad: hidden_size huge", "hidden_size", "99999999999999999999", "hidden_size"},
        {"cfg bad: vocab_size zero", "vocab_size", "0", "vocab_size = 0 is out of range"},
        {"cfg bad: no layers", "num_hidden_layers", "0", "num_hidden_layers = 0 is out of range"},
        {"cfg bad: too many layers", "num_hidden_layers", "257", "num_hidden_layers = 257 is out of range"},
        {"cfg bad: heads not divisible by KV heads", "num_key_value_heads", "3", "3 KV heads must divide 4 heads"},
        {"cfg bad: odd head_dim", "head_dim", "15", "head dim 15 must be even"},
        {"cfg bad: too many shared layers", "num_kv_shared_layers", "7", "num_kv_shared_layers = 7 is out of range"},
        {"cfg bad: double-wide flag a string", "use_double_wide_mlp", "\"yes\"",
         "use_double_wide_mlp must be true or false"},
        {"cfg bad: eps a string", "rms_norm_eps", "\"small\"", "rms_norm_eps must be a number"},
        {"cfg bad: eps zero", "rms_norm_eps", "0", "rms_norm_eps = 0 is out of range"},
        {"cfg bad: eps infinite", "rms_norm_eps", "1e400", "rms_norm_eps must be finite"},
        {"cfg bad: softcap negative", "final_logit_softcapping", "-1", "final_logit_softcapping = -1 is out of range"},
        {"cfg bad: layer_types not a list", "layer_types", "\"all\"",
         "layer_types must be a list of num_hidden_layers (6)"},
        {"cfg bad: layer_types too short", "layer_types", "[\"full_attention\"]", "layer_types must be a list"},
        {"cfg bad: unknown layer type", "layer_types",
         "[\"sliding_attention\", \"sliding_attention\", \"chunked_attention\", \"sliding_attention\","
         " \"sliding_attention\", \"full_attention\"]",
         "layer_types[2] = \"chunked_attention\""},
        {"cfg bad: per_layer_config duplicate layer", "per_layer_config",
         "{\"5\": {\"head_dim\": 32}, \"05\": {\"head_dim\": 32}}",
         "per_layer_config names layer 5 twice ('5' and '05')"},
        {"cfg bad: per_layer_config key not a number", "per_layer_config", "{\"x\": {\"head_dim\": 32}}",
         "per_layer_config key 'x' is not a layer index in [0, 6)"},
        {"cfg bad: per_layer_config negative key", "per_layer_config", "{\"-1\": {\"head_dim\": 32}}",
         "per_layer_config key '-1'"},
        {"cfg bad: per_layer_config key out of range", "per_layer_config", "{\"6\": {\"head_dim\": 32}}",
         "per_layer_config key '6'"},
        {"cfg bad: per_layer_config empty key", "per_layer_config", "{\"\": {\"head_dim\": 32}}",
         "per_layer_config key ''"},
        {"cfg bad: per_layer_config entry not an object", "per_layer_config", "{\"2\": 32}",
         "per_layer_config[\"2\"] must be an object"},
        {"cfg bad: per_layer_config head_dim a string", "per_layer_config", "{\"2\": {\"head_dim\": \"32\"}}",
         "per_layer_config[\"2\"]: head_dim must be an integer"},
        {"cfg bad: per_layer_config not an object", "per_layer_config", "[1]", "per_layer_config must be an object"},
        {"cfg bad: unsupported rope_type", "rope_parameters",
         "{\"full_attention\": {\"rope_type\": \"yarn\", \"rope_theta\": 1e6}}",
         "rope_parameters.full_attention: unsupported rope_type \"yarn\""},
        {"cfg bad: rope theta zero", "rope_parameters",
         "{\"sliding_attention\": {\"rope_type\": \"default\", \"rope_theta\": 0}}",
         "rope_parameters.sliding_attention: rope_theta = 0 is out of range"},
        {"cfg bad: partial rotary above 1", "rope_parameters",
         "{\"full_attention\": {\"rope_type\": \"proportional\", \"rope_theta\": 1e6, \"partial_rotary_factor\": 1.5}}",
         "partial_rotary_factor = 1.5 is out of range"},
        {"cfg bad: rope not per layer type", "rope_parameters", "{\"rope_type\": \"default\", \"rope_theta\": 1e4}",
         "rope_parameters must map sliding_attention / full_attention"},
        {"cfg bad: eos out of vocab", "eos_token_id", "5000", "eos_token_id 5000 is not a token id in [0, 4096)"},
        {"cfg bad: eos wrong type", "eos_token_id", "{}", "eos_token_id must be an integer or a list"},
        {"cfg bad: per-layer key not applied", "per_layer_config",
         "{\"2\": {\"head_dim\": 32, \"intermediate_size\": 7}}",
         "per_layer_config[\"2\"]: unsupported per-layer key 'intermediate_size'"},
        {"cfg bad: other activation", "hidden_activation", "\"silu\"", "unsupported hidden_activation \"silu\""},
        {"cfg bad: bidirectional text attention", "use_bidirectional_attention", "\"all\"",
         "unsupported use_bidirectional_attention \"all\""},
        {"cfg bad: attention bias", "attention_bias", "true", "unsupported attention_bias true"},
        {"cfg bad: model_type unsupported", "model_type", "\"gemma3_text\"", "unsupported model_type 'gemma3_text'"},
        {"cfg bad: model_type missing", "model_type", NULL, "missing model_type"},
        {"cfg bad: gemma4 without text_config", "model_type", "\"gemma4\"",
         "model_type gemma4 without a text_config object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_object *o = base();
        set(o, cases[i].key, cases[i].value);
        expect_bad(cases[i].name, o, cases[i].what);
    }

    json_object *o = base();
    set(o, "layer_types",
        "[\"sliding_attention\", \"sliding_attention\", \"sliding_attention\", \"sliding_attention\","
        " \"full_attention\", \"full_attention\"]");
    expect_bad("cfg bad: shared layer type absent below F", o,
               "layer 4 shares KV but no earlier layer below 4 has its type (full_attention)");
    o = base();
    set(o, "enable_moe_block", "true");
    expect_bad("cfg bad: MoE without num_experts", o, "missing required key num_experts");
    o = base();
    set(o, "enable_moe_block", "true");
    set(o, "num_experts", "4");
    set(o, "top_k_experts", "5");
    set(o, "moe_intermediate_size", "8");
    expect_bad("cfg bad: MoE top_k above experts", o, "top_k_experts = 5 is out of range");
    o = base();
    set(o, "enable_moe_block", "true");
    set(o, "num_experts", "4");
    set(o, "top_k_experts", "2");
    expect_bad("cfg bad: MoE without expert width", o, "missing required key expert_intermediate_size");

    json_object *nest = json_tokener_parse("{\"model_type\": \"gemma4\"}");
    json_object *text = base();
    set(text, "model_type", "\"gemma3_text\"");
    json_object_object_add(nest, "text_config", text);
    expect_bad("cfg bad: text_config of another model", nest, "text_config has model_type \"gemma3_text\"");
    nest = json_tokener_parse("{\"model_type\": \"gemma4\"}");
    text = base();
    set(text, "head_dim", NULL);
    json_object_object_add(nest, "text_config", text);
    expect_bad("cfg bad: nested missing key names text_config", nest, "(text_config): missing required key head_dim");

    bad_text("cfg bad: invalid JSON", "{\"model_type\": \"gemma4_text\",", "invalid JSON");
    bad_text("cfg bad: empty file", "", "invalid JSON");
    bad_text("cfg bad: not an object", "[\"gemma4_text\"]", "not a JSON object");
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 99);
    deep[199] = 0;
    bad_text("cfg bad: nesting beyond the depth limit", deep, "invalid JSON");
}

static void write_file(const char *dir, const char *name, const char *text) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void test_load(void) {
    static cfg_model c;
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none", tmpdir);
    int rc = cfg_load(&c, missing, errbuf, sizeof errbuf);
    T_CHECK(rc < 0 && strstr(errbuf, "none/config.json") && strstr(errbuf, "No such file"),
            "cfg load: missing directory names config.json", "%s", errbuf);
    write_file(tmpdir, "config.json", BASE);
    rc = cfg_load(&c, tmpdir, errbuf, sizeof errbuf);
    T_CHECK(rc == 0 && c.n_eos == 1 && c.eos_ids[0] == 1 && c.top_k == 0 && c.top_p == 1.0 && c.bos_id == 2,
            "cfg load: no generation_config.json gives defaults and config eos", "%s", rc ? errbuf : "wrong");
    write_file(tmpdir, "generation_config.json", "{\"eos_token_id\": [1, 106], \"top_k\": 64}");
    rc = cfg_load(&c, tmpdir, errbuf, sizeof errbuf);
    T_CHECK(rc == 0 && c.n_eos == 2 && c.top_k == 64, "cfg load: generation_config.json read", "%s",
            rc ? errbuf : "wrong");
    write_file(tmpdir, "generation_config.json", "{\"top_k\": }");
    rc = cfg_load(&c, tmpdir, errbuf, sizeof errbuf);
    T_CHECK(rc < 0 && strstr(errbuf, "generation_config.json") && strstr(errbuf, "invalid JSON"),
            "cfg load: broken generation_config.json named", "%s", errbuf);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/dir", tmpdir);
    mkdir(sub, 0755);
    mkdir(strcat(sub, "/config.json"), 0755);
    sub[strlen(sub) - strlen("/config.json")] = 0;
    rc = cfg_load(&c, sub, errbuf, sizeof errbuf);
    T_CHECK(rc < 0 && strstr(errbuf, "dir/config.json") && strstr(errbuf, "is a directory"),
            "cfg load: config.json that is a directory", "%s", errbuf);
}

int main(void) {
    const char *base_dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/test_cfg.XXXXXX", base_dir);
    if (!mkdtemp(tmpdir)) {
        T_CHECK(0, "cfg: temp dir", "%s", strerror(errno));
        return t_exit();
    }
    test_fixtures();
    test_layouts();
    test_generation();
    test_bad_configs();
    test_load();
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return t_exit();
}
