/* ui_theme: the theme file format, the shipped themes, and when colour is off. */
#include <stdlib.h>
#include "tests/t.h"
#include "app/ui.h"

int main(void) {
    (void)t_data;
    ui_theme t;
    char err[512];
    ui_theme_base(&t);
    const char *ok = "# comment\nname = mine\nuser = bright-cyan 17 bold underline\n\nerror = red\n";
    int rc = ui_theme_parse(&t, ok, strlen(ok), "x.theme", err, sizeof err);
    T_CHECK(rc == 0, "parse: a valid theme", "%s", err);
    T_CHECK(t.s[UI_S_USER].fg == 14 && t.s[UI_S_USER].bg == 17 &&
            t.s[UI_S_USER].attrs == (UI_A_BOLD | UI_A_UNDERLINE), "parse: colours and attributes",
            "%d %d %d", t.s[UI_S_USER].fg, t.s[UI_S_USER].bg, t.s[UI_S_USER].attrs);
    T_CHECK(t.s[UI_S_ERROR].fg == 1 && t.s[UI_S_ERROR].bg == -1 && !strcmp(t.name, "mine"),
            "parse: background defaults, name", "%d %s", t.s[UI_S_ERROR].bg, t.name);
    T_CHECK(t.s[UI_S_STATUS].attrs == UI_A_REVERSE, "parse: unnamed styles keep the built-in look", "%d",
            t.s[UI_S_STATUS].attrs);
    const char *bad[] = {"nosuch = red\n", "user = red blue green\n", "user = purple\n", "user red\n",
                         "user = 256\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        rc = ui_theme_parse(&t, bad[i], strlen(bad[i]), "bad.theme", err, sizeof err);
        char name[80];
        snprintf(name, sizeof name, "parse: refuses '%.*s' naming file and line", (int)strlen(bad[i]) - 1, bad[i]);
        T_CHECK(rc < 0 && strstr(err, "bad.theme:1"), name, "rc %d err '%s'", rc, err);
    }
    const char *nul = "user = red\n\0x";
    T_CHECK(ui_theme_parse(&t, nul, 13, "n.theme", err, sizeof err) < 0, "parse: binary refused", "");

    /* every shipped theme loads by path and by name */
    const char *root = getenv("GC_ROOT") ? getenv("GC_ROOT") : ".";
    static const char *names[] = {"dark", "light", "high-contrast", "monochrome"};
    for (size_t i = 0; i < 4; i++) {
        char path[4200], name[80];
        snprintf(path, sizeof path, "%s/themes/%s.theme", root, names[i]);
        rc = ui_theme_load(&t, path, err, sizeof err);
        snprintf(name, sizeof name, "themes: %s.theme is valid", names[i]);
        T_CHECK(rc == 0, name, "%s", err);
        int colours = 0;
        for (int s = 0; s < UI_S_COUNT; s++) colours += t.s[s].fg >= 0 || t.s[s].bg >= 0;
        snprintf(name, sizeof name, "themes: %s %s colour", names[i], i == 3 ? "has no" : "has");
        T_CHECK(i == 3 ? colours == 0 : colours > 0, name, "%d styles coloured", colours);
        rc = ui_theme_load(&t, names[i], err, sizeof err);
        snprintf(name, sizeof name, "themes: '%s' found by name", names[i]);
        T_CHECK(rc == 0, name, "%s", err);
    }
    rc = ui_theme_load(&t, "nosuch", err, sizeof err);
    T_CHECK(rc < 0 && strstr(err, "nosuch") && strstr(err, "dark"),
            "load: a missing theme is an error naming it and the themes there are", "%s", err);
    rc = ui_theme_load(&t, "../etc", err, sizeof err);
    T_CHECK(rc < 0, "load: a name cannot climb out of the theme folders", "");
    char list[512];
    ui_theme_list(list, sizeof list);
    T_CHECK(strstr(list, "dark") && strstr(list, "monochrome"), "list: names the shipped themes", "%s", list);

    ui_theme_load(&t, "dark", err, sizeof err);
    ui_theme_strip_colour(&t);
    int left = 0;
    for (int s = 0; s < UI_S_COUNT; s++) left += t.s[s].fg >= 0 || t.s[s].bg >= 0;
    T_CHECK(left == 0 && t.s[UI_S_STATUS].attrs, "strip: no colour left, attributes kept", "%d", left);
    setenv("TERM", "xterm", 1);
    unsetenv("NO_COLOR");
    T_CHECK(ui_theme_colour_wanted(), "colour: on by default", "");
    setenv("NO_COLOR", "1", 1);
    T_CHECK(!ui_theme_colour_wanted(), "colour: off with NO_COLOR", "");
    unsetenv("NO_COLOR");
    setenv("TERM", "dumb", 1);
    T_CHECK(!ui_theme_colour_wanted(), "colour: off on TERM=dumb", "");
    return t_exit();
}
