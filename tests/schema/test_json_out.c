/* The one JSON writer of the tools (ju_text, ju_dump_out, ju_print_line): UTF-8 is written
 * as it is, control characters and quotes are escaped, and bytes that are not
 * UTF-8 become U+FFFD instead of making the whole line fail. */
#include "schema/json_impl.h"

#include "tests/lib/kf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ju_print_line of {"s": ju_text(in)}, as text (free()). */
static char *line_of(const char *in)
{
    json_t *j = json_object();
    int err = 0;
    ju_set(j, "s", ju_text(in), &err);
    KT_ASSERT_INT_EQ(err, 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    KT_ASSERT(f);
    KT_ASSERT_INT_EQ(ju_print_line(j, f), 0);
    KT_ASSERT_INT_EQ(fclose(f), 0);
    json_decref(j);
    return buf;
}

/* The "s" of a line, parsed back by jansson (which refuses invalid UTF-8). */
static char *parsed_back(const char *line)
{
    json_error_t jerr;
    json_t *j = json_loads(line, 0, &jerr);
    KT_ASSERT_MSG(j, "not JSON (%s): %s", jerr.text, line);
    char *s = strdup(json_string_value(json_object_get(j, "s")));
    json_decref(j);
    return s;
}

static void test_utf8_kept(void)
{
    static const char in[] = "caf\u00e9 \u65e5\u672c \U0001F680";
    char *line = line_of(in);
    char want[128];
    snprintf(want, sizeof(want), "{\"s\":\"%s\"}\n", in);
    KT_ASSERT_STR_EQ(line, want);
    char *back = parsed_back(line);
    KT_ASSERT_STR_EQ(back, in);
    /* ju_dump_out (an HTTP body) writes the same bytes, less the newline */
    json_t *j = json_pack("{ss}", "s", in);
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT_INT_EQ(ju_dump_out(j, &b), 0);
    KT_ASSERT_INT_EQ(kf_buf_append(&b, "\n", 2), 0);
    KT_ASSERT_STR_EQ((const char *)b.ptr, want);
    kf_buf_fini(&b);
    json_decref(j);
    free(back);
    free(line);
}

static void test_controls_escaped(void)
{
    static const char in[] = "q\" b\\ t\t n\n \x01\x1f\x7f";
    char *line = line_of(in);
    KT_ASSERT_STR_EQ(line, "{\"s\":\"q\\\" b\\\\ t\\t n\\n \\u0001\\u001F\x7f\"}\n");
    char *back = parsed_back(line);
    KT_ASSERT_STR_EQ(back, in);
    free(back);
    free(line);
}

static void test_invalid_replaced(void)
{
    /* a stray continuation byte, a lead byte cut off by a buffer's end (the
     * first two bytes of "日"), an overlong '/', a surrogate, and 0xff */
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"a\x80z", "a\uFFFDz"},         {"ab\xe6\x97", "ab\uFFFD\uFFFD"},
        {"\xc0\xaf", "\uFFFD\uFFFD"},   {"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"},
        {"\xff\u00e9", "\uFFFD\u00e9"}, {"\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *line = line_of(cases[i].in);
        char *back = parsed_back(line);
        KT_ASSERT_MSG(!strcmp(back, cases[i].want), "case %zu: got %s", i, line);
        free(back);
        free(line);
    }
}

int main(void)
{
    KT_RUN(test_utf8_kept);
    KT_RUN(test_controls_escaped);
    KT_RUN(test_invalid_replaced);
    return 0;
}
