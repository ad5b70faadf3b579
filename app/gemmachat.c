/* gemmachat — the chat program (options: ../shared/spec/cli.md).  Picks the full-screen interface
 * when stdin and stdout are terminals, plain mode otherwise or when asked. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "app/args.h"
#include "app/chat.h"
#include "app/plain.h"
#include "app/ui.h"

static const char usage[] =
    "usage: gemmachat [-m DIR] [options]          chat (full screen on a terminal, else plain)\n"
    "       gemmachat [-m DIR] -p TEXT [options]  answer TEXT on stdout and exit\n"
    "       gemmachat [-m DIR] --plain            one user turn per line of stdin\n"
    "       gemmachat [-m DIR] --replay FILE [--save OUT]   regenerate a saved chat's replies\n"
    "options: --temp T --top-k K --top-p P --min-p P --seed N --max-new N --system TEXT --think\n"
    "         --ctx N --threads N --quant q8|q4 --theme NAME --mouse --load FILE --resume --no-autosave\n"
    "Without -m the bundled demo model runs.  In the chat, /help lists the commands.\n"
    "Chats are saved after every turn in $XDG_DATA_HOME/gemmachat/chats (not with -p or piped input).\n";

static const char *const known[] = {
    "-m=", "--model=", "-p=", "--plain", "--replay=", "--save=", "--temp=", "--top-k=", "--top-p=",
    "--min-p=", "--seed=", "--max-new=", "--system=", "--ctx=", "--threads=", "--quant=", "--theme=",
    "--mouse", "--load=", "--resume", "--no-autosave", "--think", "-h", "--help", NULL};

static int usage_error(const char *msg) {
    args_complain("gemmachat", "%s (gemmachat --help shows the options)", msg);
    return 2;
}

/* --name as a number in [lo, hi]; absent leaves *v.  -1 on a bad value (reported). */
static int opt_number(int argc, char **argv, const char *name, double lo, double hi, int whole, double *v) {
    const char *s = args_get(argc, argv, name);
    if (!s) return 0;
    long n;
    double d;
    int ok = whole ? args_long(s, &n) == 0 && (d = (double)n, 1) : args_double(s, &d) == 0;
    if (!ok || d < lo || d > hi) {
        char msg[256];
        if (whole) snprintf(msg, sizeof msg, "%s needs a whole number from %.0f to %.0f, not '%.64s'", name, lo, hi, s);
        else snprintf(msg, sizeof msg, "%s needs a number from %g to %g, not '%.64s'", name, lo, hi, s);
        usage_error(msg);
        return -1;
    }
    *v = d;
    return 0;
}

/* The options into o; -1 on a bad value (reported). */
static int parse_opts(int argc, char **argv, chat_opts *o) {
    chat_opts_default(o);
    double v;
    o->model_dir = args_get(argc, argv, "-m");
    if (!o->model_dir) o->model_dir = args_get(argc, argv, "--model");
    if (opt_number(argc, argv, "--temp", 0, 100, 0, &o->temp) < 0 ||
        opt_number(argc, argv, "--top-p", 0.01, 1, 0, &o->top_p) < 0 ||
        opt_number(argc, argv, "--min-p", 0, 1, 0, &o->min_p) < 0)
        return -1;
    v = o->top_k;
    if (opt_number(argc, argv, "--top-k", 0, 1000000, 1, &v) < 0) return -1;
    o->top_k = (int)v;
    v = (double)o->seed;
    if (opt_number(argc, argv, "--seed", 0, 9007199254740992.0, 1, &v) < 0) return -1;
    o->seed = (long long)v;
    v = 0;
    if (opt_number(argc, argv, "--max-new", 0, 1e9, 1, &v) < 0) return -1;
    o->max_new = (int)v;
    v = 0;
    if (opt_number(argc, argv, "--ctx", 0, 1 << 24, 1, &v) < 0) return -1;
    o->ctx = (int)v;
    v = 0;
    if (opt_number(argc, argv, "--threads", 0, 1024, 1, &v) < 0) return -1;
    o->threads = (int)v;
    o->quant = args_get(argc, argv, "--quant");
    o->system = args_get(argc, argv, "--system");
    o->think = args_has(argc, argv, "--think");
    return 0;
}

/* A loaded chat brings its settings; options given on the command line still win. */
static void apply_overrides(chat *c, const chat_opts *o, int argc, char **argv) {
    smp_params p = *chat_sampling(c);
    if (!isnan(o->temp)) p.temp = (float)o->temp;
    if (!isnan(o->top_p)) p.top_p = (float)o->top_p;
    if (!isnan(o->min_p)) p.min_p = (float)o->min_p;
    if (o->top_k >= 0) p.top_k = o->top_k;
    if (o->seed >= 0) p.seed = (uint64_t)o->seed;
    chat_set_sampling(c, &p, o->seed >= 0);   /* else the saved random stream goes on */
    if (args_has(argc, argv, "--max-new")) chat_set_max_new(c, o->max_new);
    if (o->think) chat_set_think(c, 1);
    char err[256];
    if (o->system && chat_set_system(c, o->system, err, sizeof err) < 0) args_complain("gemmachat", "%s", err);
}

/* A saved transcript: into the chat, or (keep) handed back. */
static int load_into(chat *c, const char *path, tr_transcript **keep) {
    char err[1024];
    tr_transcript *t;
    if (tr_load(&t, path, err, sizeof err) < 0) {
        args_complain("gemmachat", "%s", err);
        return -1;
    }
    if (*tr_load_note(t)) args_complain("gemmachat", "%s: %s", path, tr_load_note(t));
    if (chat_other_model(c, t))
        args_complain("gemmachat", "note: %s was saved with another model configuration (%s); replies will differ",
                path, tr_settings_of(t)->model_dir);
    if (keep) {
        *keep = t;
        return 0;
    }
    if (chat_set_transcript(c, t, err, sizeof err) < 0) {
        args_complain("gemmachat", "%s", err);
        return -1;
    }
    return 0;
}

/* The autosave of an interactive chat: a resumed chat continues in its own file, any other gets a
 * new one in the chats directory. */
static void start_autosave(chat *c, const char *resumed) {
    char err[1024], dir[PATH_MAX], path[PATH_MAX];
    if (resumed) {
        snprintf(path, sizeof path, "%s", resumed);
    } else if (tr_chats_dir(dir, sizeof dir, 1, err, sizeof err) < 0 ||
               tr_autosave_path(dir, time(NULL), path, sizeof path, err, sizeof err) < 0) {
        args_complain("gemmachat", "autosave off: %s", err);
        return;
    }
    if (chat_autosave(c, path, err, sizeof err) < 0) args_complain("gemmachat", "autosave off: %s", err);
}

/* The command line's sampling options, which replace what each replayed reply was saved with. */
static void replay_opts(const chat_opts *o, int argc, char **argv, chat_replay_opts *r) {
    chat_replay_opts_default(r);
    r->temp = o->temp, r->top_p = o->top_p, r->min_p = o->min_p, r->top_k = o->top_k, r->seed = o->seed;
    if (args_has(argc, argv, "--max-new")) r->max_new = o->max_new;
    if (o->think) r->think = 1;
    r->system = o->system;
}

static int run_ui(chat *c, int argc, char **argv) {
    ui_opts uo;
    ui_opts_default(&uo);
    uo.theme = args_get(argc, argv, "--theme");
    uo.mouse = args_has(argc, argv, "--mouse");
    const char *dir_name = chat_model_dir(c), *slash = strrchr(dir_name, '/');
    uo.model_name = slash && slash[1] ? slash + 1 : dir_name;
    return ui_run(c, &uo);
}

int main(int argc, char **argv) {
    char err[1024];
    if (args_has(argc, argv, "-h") || args_has(argc, argv, "--help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (args_check(argc, argv, known, err, sizeof err) < 0) return usage_error(err);
    chat_opts o;
    if (parse_opts(argc, argv, &o) < 0) return 2;
    const char *prompt = args_get(argc, argv, "-p"), *replay = args_get(argc, argv, "--replay");
    const char *load = args_get(argc, argv, "--load"), *save = args_get(argc, argv, "--save");
    int plain_lines = args_has(argc, argv, "--plain"), resume = args_has(argc, argv, "--resume");
    if ((prompt != NULL) + (replay != NULL) + plain_lines > 1)
        return usage_error("-p, --plain and --replay exclude each other");
    if ((load != NULL) + (replay != NULL) + resume > 1)
        return usage_error("--load, --resume and --replay exclude each other");
    if (save && !replay) return usage_error("--save goes with --replay");

    char resumed[PATH_MAX] = "";
    if (resume) {
        char dir[PATH_MAX];
        int rc = tr_chats_dir(dir, sizeof dir, 0, err, sizeof err);
        if (rc == 0) rc = tr_last_chat(dir, resumed, sizeof resumed, err, sizeof err);
        if (rc < 0) {
            args_complain("gemmachat", "--resume: %s", err);
            return 1;
        }
        if (rc == 1) args_complain("gemmachat", "--resume: no saved chat yet; starting a new one");
    }

    chat *c;
    if (chat_create(&c, &o, err, sizeof err) < 0) {
        args_complain("gemmachat", "%s", err);
        return 1;
    }
    int status;
    tr_transcript *src = NULL;
    const char *from = load ? load : *resumed ? resumed : NULL;
    if ((from && load_into(c, from, NULL) < 0) || (replay && load_into(c, replay, &src) < 0)) {
        chat_free(c);
        return 1;
    }
    if (from) apply_overrides(c, &o, argc, argv);

    /* the conversations: the full screen and line mode are autosaved, one-shots are not */
    int ui = !replay && !prompt && !plain_lines && ui_available();
    plain_mode mode = prompt ? PLAIN_ONESHOT : plain_lines || isatty(0) ? PLAIN_LINES : PLAIN_ALL;
    if (!replay && (ui || mode == PLAIN_LINES) && !args_has(argc, argv, "--no-autosave"))
        start_autosave(c, *resumed ? resumed : NULL);
    if (replay) {
        chat_replay_opts ro;
        replay_opts(&o, argc, argv, &ro);
        status = plain_replay(c, src, &ro);
        if (save && tr_save(chat_transcript(c), save, err, sizeof err) < 0) {
            args_complain("gemmachat", "%s", err);
            status = 1;
        }
        tr_free(src);
    } else if (ui) {
        status = run_ui(c, argc, argv);
    } else {
        status = plain_run(c, &(plain_opts){.mode = mode, .prompt = prompt});
    }
    /* the last snapshot, on every way out (SIGTERM and SIGHUP included: the loops end on them) */
    if (chat_emergency_save(c, err, sizeof err) < 0) {
        args_complain("gemmachat", "the chat could not be saved: %s", err);
        if (!status) status = 1;
    }
    chat_free(c);
    return status;
}
