/* json.c - the --json summary: one object on one line, keys in call order. */
#include "zc/base.h"

#include <math.h>

void zc_json_begin(struct zc_json *j, FILE *f)
{
    j->f = f;
    j->first = true;
    fputc('{', f);
}

static void key(struct zc_json *j, const char *k)
{
    fprintf(j->f, "%s\"%s\":", j->first ? "" : ",", k);
    j->first = false;
}

void zc_json_num(struct zc_json *j, const char *k, double v)
{
    key(j, k);
    if (isfinite(v))
        fprintf(j->f, "%.6g", v);
    else
        fputs("null", j->f); /* JSON has no inf/nan */
}

void zc_json_u64(struct zc_json *j, const char *k, uint64_t v)
{
    key(j, k);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void zc_json_bool(struct zc_json *j, const char *k, bool v)
{
    key(j, k);
    fputs(v ? "true" : "false", j->f);
}

void zc_json_str(struct zc_json *j, const char *k, const char *v)
{
    key(j, k);
    fputc('"', j->f);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(j->f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(j->f, "\\u%04x", *p);
        else
            fputc(*p, j->f);
    }
    fputc('"', j->f);
}

void zc_json_end(struct zc_json *j)
{
    fputs("}\n", j->f);
    fflush(j->f);
}
