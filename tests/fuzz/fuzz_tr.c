/* Fuzz target: transcript loading (tr_load) with or without a journal beside the snapshot.  The input
 * is the snapshot, optionally followed by "\n#journal\n" and the journal's bytes.  Invariants: a
 * refused file is named in the message; a loaded transcript saves and reloads with every message's
 * role, text and ids intact; saving what was reloaded writes the same file again (but for the id and
 * time on its first line: numbers may be normalised once, as a value that is exactly a float is
 * written in the float's shortest form); and it exports to Markdown. */
#include "app/tr.h"
#include "tests/fuzz/fuzz.h"
#include "tests/tr/tr_fixture.h"

#define TR_TARGET "fuzz_tr"
#define TR_SEP "\n#journal\n"

static int fuzz_tr_one(const uint8_t *data, size_t n) {
    static char snap[512], journal[600], copy[512], copy2[512], md[512];
    char err[8192] = "";
    if (!snap[0]) {
        const char *dir = fuzz_tmpdir();
        snprintf(snap, sizeof snap, "%s/chat.json", dir);
        snprintf(journal, sizeof journal, "%s.journal", snap);
        snprintf(copy, sizeof copy, "%s/copy.json", dir);
        snprintf(copy2, sizeof copy2, "%s/copy2.json", dir);
        snprintf(md, sizeof md, "%s/chat.md", dir);
    }
    const char *sep = memmem(data, n, TR_SEP, sizeof TR_SEP - 1);
    size_t slen = sep ? (size_t)(sep - (const char *)data) : n;
    if (fuzz_write(snap, data, slen) < 0) fuzz_die(TR_TARGET, "cannot write %s", snap);
    if (sep) {
        size_t skip = slen + sizeof TR_SEP - 1;
        if (fuzz_write(journal, data + skip, n - skip) < 0) fuzz_die(TR_TARGET, "cannot write %s", journal);
    } else {
        unlink(journal);
    }
    tr_transcript *t = NULL, *back = NULL, *again = NULL;
    if (tr_load(&t, snap, err, sizeof err) < 0) {
        if (t) fuzz_die(TR_TARGET, "failed but returned a transcript");
        fuzz_check_err(TR_TARGET, err, snap);
        return 0;
    }
    if (!t || !tr_load_note(t)) fuzz_die(TR_TARGET, "loaded without a transcript or a note");
    for (size_t i = 0; i < tr_count(t); i++) {
        tr_message *m = tr_at(t, i);
        if (!m || !m->text || m->text[m->len] || (m->n_ids && !m->ids) || m->role > TR_MODEL)
            fuzz_die(TR_TARGET, "message %zu is malformed", i);
    }
    if (tr_save(t, copy, err, sizeof err) < 0) fuzz_die(TR_TARGET, "a loaded transcript did not save: %s", err);
    if (tr_load(&back, copy, err, sizeof err) < 0) fuzz_die(TR_TARGET, "a saved transcript did not load: %s", err);
    if (tr_count(back) != tr_count(t)) fuzz_die(TR_TARGET, "save + load: %zu messages became %zu", tr_count(t), tr_count(back));
    for (size_t i = 0; i < tr_count(t); i++) {
        const tr_message *a = tr_at(t, i), *b = tr_at(back, i);
        if (a->role != b->role || a->len != b->len || memcmp(a->text, b->text, a->len) || a->n_ids != b->n_ids ||
            (a->n_ids && memcmp(a->ids, b->ids, a->n_ids * sizeof *a->ids)))
            fuzz_die(TR_TARGET, "save + load changed message %zu", i);
    }
    if (tr_save(back, copy, err, sizeof err) < 0 || tr_load(&again, copy, err, sizeof err) < 0 ||
        tr_save(again, copy2, err, sizeof err) < 0)
        fuzz_die(TR_TARGET, "a second save + load + save failed: %s", err);
    size_t n1, n2;
    char *f1 = fx_read(copy, &n1), *f2 = fx_read(copy2, &n2);
    const char *b1 = f1 ? memchr(f1, '\n', n1) : NULL, *b2 = f2 ? memchr(f2, '\n', n2) : NULL;
    if (!b1 || !b2 || n1 - (size_t)(b1 - f1) != n2 - (size_t)(b2 - f2) || memcmp(b1, b2, n1 - (size_t)(b1 - f1)))
        fuzz_die(TR_TARGET, "saving a reloaded transcript wrote a different file");
    free(f1);
    free(f2);
    if (tr_export_md(t, md, err, sizeof err) < 0) fuzz_die(TR_TARGET, "Markdown export failed: %s", err);
    tr_free(again);
    tr_free(back);
    tr_free(t);
    return 0;
}
FUZZ_TARGET(fuzz_tr_one)
