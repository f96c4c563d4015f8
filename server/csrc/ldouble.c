/* INCRBYFLOAT and HINCRBYFLOAT exactly as Redis computes them: in C's long double (80-bit on
 * x86-64), printed with "%.17Lf" and trailing zeros removed. Rust has no long double, and the
 * replies differ from a double computation in the last digits. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

/* Parses like Redis's string2ld: the whole string, no leading space, no NaN. */
static int parse_ld(const char *s, size_t len, long double *out) {
    char buf[5 * 1024 + 1];
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0])) return 0;
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (*end != '\0' || (size_t)(end - buf) != len || (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) || isnan(v))
        return 0;
    *out = v;
    return 1;
}

/* Returns the length written to out, -1 if cur is not a number, -2 if incr is not, -3 for a
 * NaN or infinite result. cur may be NULL (a missing key counts as 0). */
long respd_ld_incr(const char *cur, size_t cur_len, const char *incr, size_t incr_len, char *out, size_t out_len) {
    long double a = 0, b;
    if (cur && !parse_ld(cur, cur_len, &a)) return -1;
    if (!parse_ld(incr, incr_len, &b)) return -2;
    long double v = a + b;
    if (isnan(v) || isinf(v)) return -3;
    int l = snprintf(out, out_len, "%.17Lf", v);
    if (l < 0 || (size_t)l >= out_len) return -3;
    if (strchr(out, '.') != NULL) {
        char *p = out + l - 1;
        while (*p == '0') { p--; l--; }
        if (*p == '.') l--;
    }
    if (l == 2 && out[0] == '-' && out[1] == '0') { out[0] = '0'; l = 1; }
    return l;
}
